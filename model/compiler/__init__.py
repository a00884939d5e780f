"""Vensim/XMILE -> Numba compiler.

frontend.py  PySD abstract model -> scalarised slot graph (subscripts resolved)
codegen.py   slot graph -> Python source of @njit kernels (Euler, RK4, ensembles)
rt.py        small @njit helpers mirroring PySD's builtins, lookups and statefuls
The public entry point is `model.compile_model` (model/runtime.py).
"""
