"""Vensim/XMILE -> Numba compiler.

ir.py        the slot vocabulary: placeholders, Variable / Lookup / Stateful, dependencies
frontend.py  PySD abstract model -> slot graph (subscripts, expressions, statefuls, macros,
             constants)
schedule.py  dependency order of the slot graph (run phase, hoisted, init phase)
codegen.py   the ordered plan -> Python source of @njit kernels (Euler, RK4, ensembles)
rt.py        small @njit math intrinsics mirroring PySD's builtins, lookups and statefuls
native.py    the same plan -> LLVM IR of the single-run Euler kernel (no Numba compile)
machine.py   that IR -> object code cached per CPU, loaded and called through ctypes
driver.py    compile_model: parse, build, and the on-disk cache keyed on this whole folder
The public entry point is `innosd.model.compile_model`; the result is a
`model.runtime.CompiledModel`.
"""
