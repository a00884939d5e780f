"""Chunked, resumable execution of parameter tables: in this process or on Dask.

A parameter table (one row per model run) is cut into chunks of `chunk_size` rows; each
chunk is one task, `task(chunk) -> ndarray` with one leading row per run. A finished
chunk is written at once to `CACHE/<fingerprint>/chunk_NNNNN.npy` (atomically, with the
sha256 of its bytes beside it; a truncated or overwritten chunk is computed again), where the
fingerprint hashes the table, the task and the model file, so running the same
experiment again after an interruption loads the finished chunks and computes only the
rest. The caller deletes the chunk folder once its own outputs are safely written.

Schedulers (`run.scheduler`):
- `local` (default): chunks run one after another in this process. The compiled
  ensemble kernel is already parallel over runs (Numba `prange` uses every core), and
  Numba's default threading layer must not be entered from two threads at once, so a
  thread pool would add nothing but risk; nothing to start.
- `cluster`: a `dask.distributed.LocalCluster` of `workers` single-threaded processes,
  started for the experiment and shut down after it.
- `tcp://HOST:PORT` (or any Dask address): an existing cluster; its workers need this
  package installed and the model file at the same path. An address that cannot be
  reached within `CONNECT_TIMEOUT_S`, or whose scheduler has no worker within
  `WORKERS_TIMEOUT_S`, is a one-line error.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from innosd.errors import ConfigError

# Long enough for a scheduler on a loaded LAN to answer, short enough that a typo fails fast.
CONNECT_TIMEOUT_S = 5.0
# How long a reachable scheduler may go without a worker before the run stops with one line.
WORKERS_TIMEOUT_S = 30.0
# The LocalCluster's HTTP server (dashboard, metrics) on a free port: Dask's default 8787 is taken by any
# other cluster on the machine, and Dask then warns and moves (an error where warnings are errors).
FREE_PORT = ":0"
CHUNK_PATTERN = "chunk_{:05d}.npy"
CHECKSUM_SUFFIX = ".sha256"  # chunk_NNNNN.npy.sha256: a resumed chunk is reused only if it matches


@dataclass(frozen=True)
class ExecSettings:
    scheduler: str = "local"
    workers: int = 2
    chunk_size: int = 4096
    progress: bool = True


def fingerprint(table: pd.DataFrame, task: Callable, chunk_size: int, model_file: Path | None = None) -> str:
    """Content hash of everything a chunk's result depends on."""
    h = hashlib.sha256()
    h.update(repr(task).encode())
    h.update(f"|{chunk_size}|".encode())
    h.update("\x1f".join(map(str, table.columns)).encode())
    h.update(np.ascontiguousarray(table.to_numpy(dtype=float)).tobytes())
    if model_file is not None:
        h.update(Path(model_file).read_bytes())
    return h.hexdigest()[:24]


def chunk_bounds(n_rows: int, chunk_size: int) -> list[tuple[int, int]]:
    return [(start, min(n_rows, start + chunk_size)) for start in range(0, n_rows, chunk_size)]


def _save_chunk(folder: Path, index: int, values: np.ndarray) -> None:
    """The chunk's .npy and, beside it, the sha256 of its bytes (written last: a chunk
    without a matching checksum is not finished)."""
    path = folder / CHUNK_PATTERN.format(index)
    buffer = io.BytesIO()
    np.save(buffer, values)
    data = buffer.getvalue()
    for target, content in ((path, data), (_checksum_path(path), hashlib.sha256(data).hexdigest().encode())):
        tmp = folder / f".{target.name}.{os.getpid()}.tmp"
        tmp.write_bytes(content)
        os.replace(tmp, target)


def _checksum_path(path: Path) -> Path:
    return path.with_name(path.name + CHECKSUM_SUFFIX)


def load_chunk(folder: Path, index: int) -> np.ndarray | None:
    """A finished chunk, or None if it is missing or damaged (truncated, overwritten, or
    without its checksum): such a chunk is computed again, never reused."""
    path = folder / CHUNK_PATTERN.format(index)
    try:
        data = path.read_bytes()
        expected = _checksum_path(path).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    if hashlib.sha256(data).hexdigest() != expected:
        return None
    try:
        return np.load(io.BytesIO(data), allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None


def finished_chunks(folder: Path, n_chunks: int) -> set[int]:
    return {i for i in range(n_chunks) if load_chunk(folder, i) is not None}


@contextlib.contextmanager
def dask_client(settings: ExecSettings) -> Iterator["object"]:
    """A distributed Client for `cluster` or an address; one-line error if unreachable."""
    from dask.distributed import Client, LocalCluster

    if settings.scheduler == "cluster":
        try:
            cluster = LocalCluster(n_workers=int(settings.workers), threads_per_worker=1, processes=True,
                                   dashboard_address=FREE_PORT, silence_logs=logging.ERROR)
        except (OSError, RuntimeError, TimeoutError) as err:
            reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise ConfigError(f"run.scheduler=cluster: cannot start a local Dask cluster of {settings.workers} "
                              f"workers ({reason}); use run.scheduler=local") from None
        with cluster, Client(cluster) as client:
            yield client
        return
    try:
        client = Client(settings.scheduler, timeout=CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError, ValueError) as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ConfigError(f"run.scheduler: cannot reach the Dask scheduler at {settings.scheduler!r} "
                          f"({reason}); start one with `dask scheduler` or use run.scheduler=local") from None
    try:
        try:  # a scheduler without workers would accept tasks and never run them
            client.wait_for_workers(1, timeout=WORKERS_TIMEOUT_S)
        except (OSError, TimeoutError) as err:
            raise ConfigError(f"run.scheduler: the Dask scheduler at {settings.scheduler!r} has no workers "
                              f"(none joined within {WORKERS_TIMEOUT_S:g} s); start one with "
                              f"`dask worker {settings.scheduler}` or use run.scheduler=local") from None
        yield client
    finally:
        client.close()


def _progress(total: int, label: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=label, unit="chunk", disable=not enabled or None, leave=False)


def run_chunked(table: pd.DataFrame, task: Callable[[pd.DataFrame], np.ndarray], settings: ExecSettings,
                cache_root: Path, label: str = "ensemble", model_file: Path | None = None
                ) -> tuple[np.ndarray, Path]:
    """Evaluate `task` on every chunk of `table`; results stacked in table order.

    Returns the stacked array and the chunk folder (delete it with `discard_chunks` once
    the outputs built from it are written).
    """
    size = int(settings.chunk_size)
    bounds = chunk_bounds(len(table), size)
    folder = Path(cache_root) / fingerprint(table, task, size, model_file)
    folder.mkdir(parents=True, exist_ok=True)
    parts = {i: load_chunk(folder, i) for i in range(len(bounds))}
    todo = [i for i, part in parts.items() if part is None]
    with _progress(len(bounds), label, settings.progress) as bar:
        bar.update(len(bounds) - len(todo))
        if todo and settings.scheduler == "local":
            for i in todo:
                start, stop = bounds[i]
                parts[i] = np.asarray(task(table.iloc[start:stop]))
                _save_chunk(folder, i, parts[i])
                bar.update()
        elif todo:
            from dask.distributed import as_completed

            with dask_client(settings) as client:
                futures = {client.submit(task, table.iloc[bounds[i][0]:bounds[i][1]], pure=False): i
                           for i in todo}
                for future in as_completed(futures):
                    parts[futures[future]] = np.asarray(future.result())
                    _save_chunk(folder, futures[future], parts[futures[future]])
                    bar.update()
    return np.concatenate([parts[i] for i in range(len(bounds))], axis=0), folder


class DaskBatches:
    """A calibration's batch runner (innosd.calibration.likelihood.BatchRunner) on a Dask client:
    each batch of parameter rows (the walkers of one emcee half-step, an optimiser's gradient
    stencil, the kept draws) is split into one chunk per worker, and the chunks' model values are
    joined in row order, so the result equals the in-process evaluation. Nothing is cached on
    disk: a batch takes milliseconds, and the sampler's next batch depends on this one."""

    def __init__(self, client, min_rows: int = 1):
        self.client = client
        self.min_rows = max(1, int(min_rows))  # fewer rows per chunk than this are not worth a task
        self.workers = max(1, len(client.scheduler_info().get("workers", {})))

    def __call__(self, task: Callable[[np.ndarray], np.ndarray], rows: np.ndarray) -> np.ndarray:
        rows = np.atleast_2d(rows)
        parts = np.array_split(rows, max(1, min(self.workers, len(rows) // self.min_rows)))
        futures = self.client.map(task, parts, pure=False)
        return np.concatenate(self.client.gather(futures), axis=1)  # (columns, rows, times)


def discard_chunks(folder: Path) -> None:
    """Delete a finished experiment's chunks (and the cache folder once it is empty)."""
    shutil.rmtree(folder, ignore_errors=True)
    with contextlib.suppress(OSError):
        Path(folder).parent.rmdir()  # only succeeds when no other experiment has chunks there
