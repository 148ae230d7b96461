"""Python steps in worker processes (``materialize: {python: ..., isolation: process}``).

Pure-Python work holds the GIL, so two such steps on worker threads (``--jobs``) take as long
as one after the other; in worker processes they run side by side (bench/python_jobs.py has
the figures). A worker never opens the warehouse (a DuckDB file has one writing process):
this process writes each upstream argument to a Parquet file, the worker calls the function
over them and writes what it returns to Parquet, and this process stages, audits and publishes
it as for a thread. Workers are new interpreters started on first use, one per step running at
once, and reused for the run; a timeout or a second Ctrl-C kills the worker, and a worker
that dies (a crash in C code, ``os._exit``) fails only its step.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from duck_cli.run import python_worker
from duck_cli.run.python_call import Context, UserCodeError

POLL = 0.1  # seconds between looks at a busy worker (its death, the timeout)


@dataclass(frozen=True)
class Shipped:
    """An upstream argument written to a Parquet file for the worker."""

    file: str


class Workers:
    """The worker processes of one session: idle ones are reused; busy ones are killed on
    `kill_all` (a second Ctrl-C) and every one on `close`."""

    def __init__(self):
        self.idle: list[_Worker] = []
        self.busy: set[_Worker] = set()
        self.lock = threading.Lock()

    def take(self) -> "_Worker":
        """An idle worker, or a new one."""
        with self.lock:
            worker = self.idle.pop() if self.idle else None
            worker = worker if worker is not None and worker.alive() else _Worker()
            self.busy.add(worker)
            return worker

    def give(self, worker: "_Worker") -> None:
        """Return a worker after a request it answered."""
        with self.lock:
            self.busy.discard(worker)
            self.idle.append(worker)

    def drop(self, worker: "_Worker") -> None:
        """Kill a worker that timed out, died or was interrupted."""
        with self.lock:
            self.busy.discard(worker)
        worker.kill()

    def kill_all(self) -> None:
        """Stop the functions running now (their steps fail or the run stops)."""
        with self.lock:
            busy = list(self.busy)
        for worker in busy:
            worker.kill()

    def close(self) -> None:
        """Stop every worker (the run is over)."""
        with self.lock:
            every, self.idle, self.busy = [*self.idle, *self.busy], [], set()
        for worker in every:
            worker.stop()


class _Worker:
    """One worker process (``python -m duck_cli.run.python_worker``) and its pipes."""

    def __init__(self):
        package_root = str(Path(__file__).resolve().parents[2])  # where duck_cli is
        path = os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH")) if p)
        # a new interpreter, not multiprocessing's fork (this process runs DuckDB's threads)
        # nor its spawn (which re-runs the __main__ of whatever program embeds duck)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "duck_cli.run.python_worker"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, bufsize=0, env={**os.environ, "PYTHONPATH": path})

    def alive(self) -> bool:
        return self.process.poll() is None

    def send(self, request: dict) -> None:
        python_worker.send(self.process.stdin, request)

    def ready(self, seconds: float) -> bool:
        """Whether an answer (or the end of the pipe) arrived within ``seconds``."""
        return bool(select.select([self.process.stdout], [], [], seconds)[0])

    def receive(self) -> dict:
        return python_worker.receive(self.process.stdout)

    def kill(self) -> None:
        if self.alive():
            self.process.kill()
        self.process.wait(5)
        self._close_pipes()

    def stop(self) -> None:
        self._close_pipes()  # the worker reads the end of its stdin and returns
        try:
            self.process.wait(2)
        except subprocess.TimeoutExpired:
            self.kill()

    def _close_pipes(self) -> None:
        for pipe in (self.process.stdin, self.process.stdout):
            try:
                pipe.close()
            except OSError:
                pass


def workers(s) -> Workers:
    """The session's worker processes (a `Workers`, made on first use)."""
    with s.python_lock:
        if s.python_workers is None:
            s.python_workers = Workers()
        return s.python_workers


def close(s) -> None:
    """Stop the session's worker processes, if any were started."""
    if s.python_workers is not None:
        s.python_workers.close()
        s.python_workers = None


def invoke(b, ctx: Context, fn, kwargs: dict, folder: Path):
    """Call the asset's function in a worker process; what it returned, as a relation over the
    Parquet file it wrote (in ``folder``, which the caller deletes after staging)."""
    a = b.asset
    out = None if a.is_files else str(folder / "result.parquet")
    request = {"root": str(b.s.project.root), "path": a.materialize.python.path,
               "function": a.materialize.python.function, "out": out,
               "arguments": {n: None if v is ctx else v.file for n, v in kwargs.items()},
               **_context_fields(ctx)}
    answer = ask(workers(b.s), request, a.materialize.timeout, fn.__name__)
    ctx.log.lines.extend(answer["log"])
    if "error" in answer:
        raise UserCodeError(answer["error"], answer["kind"])
    return None if out is None else b.wh.con.read_parquet(out)


def ship(relation, folder: Path, name: str) -> Shipped:
    """Write an upstream relation to a Parquet file in ``folder`` for the worker."""
    path = folder / f"{name}.parquet"
    relation.write_parquet(str(path))
    return Shipped(str(path))


def exchange_folder() -> Path:
    """A new folder for one step's files between this process and its worker."""
    import tempfile  # a Python asset's step only: an SQL run never loads it

    return Path(tempfile.mkdtemp(prefix="duck-python-"))


def remove(folder: Path | None) -> None:
    """Delete a step's exchange folder."""
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)


def ask(pool: Workers, request: dict, timeout: timedelta | None, name: str) -> dict:
    """Send a request to a worker and wait for its answer, the timeout, or its death."""
    worker = pool.take()
    deadline = None if timeout is None else time.monotonic() + timeout.total_seconds()
    try:
        worker.send(request)
        while not worker.ready(POLL):
            if deadline is not None and time.monotonic() >= deadline:
                pool.drop(worker)
                raise UserCodeError(f"{name} did not finish within its timeout "
                                    f"({timeout.total_seconds():g}s); its worker process was "
                                    "killed", "timeout")
        answer = worker.receive()
    except (EOFError, OSError):
        pool.drop(worker)
        raise UserCodeError(f"{name} stopped its worker process ({_death(worker)}) before "
                            "returning: a crash in the function or a library it calls (there "
                            "is no Python traceback)", "python") from None
    except UserCodeError:
        raise
    except BaseException:  # Ctrl-C twice while waiting: the function stops with the run
        pool.drop(worker)
        raise
    pool.give(worker)
    return answer


def _death(worker: _Worker) -> str:
    code = worker.process.returncode
    if code is None:
        return "it closed its pipe"
    if code < 0:
        try:
            return f"killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def _context_fields(ctx: Context) -> dict:
    window = ctx.partition_time_window
    return {"asset": ctx.asset, "run_id": ctx.run_id, "partition_key": ctx.partition_key,
            "partition_keys": list(ctx.partition_keys),
            "window": [window.start.isoformat(), window.end.isoformat()] if window else None,
            "output_dir": str(ctx.output_dir) if ctx.output_dir else None}
