"""The far side of ``isolation: process``: a worker process that calls a Python asset's function.

It receives one request at a time on its stdin (the function, the step's context, and each
upstream argument as a Parquet file the parent wrote), calls the function with the upstream
as relations of an in-memory DuckDB, and writes what it returns to a Parquet file the parent
stages from. It never opens the warehouse: a DuckDB file has one writing process, the parent.
"""

from __future__ import annotations

import os
import pickle
import signal
import struct
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

from duck_cli.models import PythonRef
from duck_cli.run.python_call import Context, StepLog, TimeWindow, UserCodeError, call, load
from duck_cli.run.python_result import RESULT, register


def main() -> None:
    """The worker's entry point (``python -m duck_cli.run.python_worker``): requests on stdin,
    answers on the stdout it started with; what the user's code prints goes to stderr."""
    answers = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    serve(sys.stdin.buffer, answers)


def serve(requests, answers) -> None:
    """Answer requests until the parent closes the pipe or dies."""
    # Ctrl-C reaches the whole process group: the parent decides (the first one lets the step
    # in progress finish), so the worker ignores it and is killed by the parent when needed
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_orphaned, args=(os.getppid(),), daemon=True).start()
    functions: dict = {}
    lock = threading.Lock()
    while True:
        try:
            request = receive(requests)
        except (EOFError, OSError):
            return
        try:
            send(answers, answer(request, functions, lock))
        except OSError:  # the parent died (kill -9) while the function ran: nobody to tell
            return


def _orphaned(parent: int) -> None:
    """Exit once the parent is gone (killed with -9, it cannot stop us): user code never runs
    on for a run that no longer exists."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


def send(stream, message) -> None:
    """Write one message: its length, then its pickle."""
    data = pickle.dumps(message)
    stream.write(struct.pack("!Q", len(data)) + data)
    stream.flush()


def receive(stream):
    """Read one message written by `send` (EOFError when the other side is gone)."""
    (size,) = struct.unpack("!Q", _exactly(stream, 8))
    return pickle.loads(_exactly(stream, size))


def _exactly(stream, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = stream.read(left)
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def answer(request: dict, functions: dict, lock) -> dict:
    """Call the function a request names; the log, and the user's error if it failed."""
    import duckdb

    root = Path(request["root"])
    log = StepLog()
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")  # as on duck's own connections
    try:
        fn = load(root, PythonRef(request["path"], request["function"]), functions, lock)
        ctx = context(request, log, con)
        kwargs = {name: ctx if file is None else con.read_parquet(file)
                  for name, file in request["arguments"].items()}
        value = call(fn, kwargs, root, None)
        if request["out"] is not None:  # kind file writes files: what it returns is ignored
            register(con, value, request["function"])
            con.sql(f"SELECT * FROM {RESULT}").write_parquet(request["out"])
        return {"log": log.lines}
    except UserCodeError as err:
        return {"log": log.lines, "error": err.text, "kind": err.kind}
    except duckdb.Error as err:  # e.g. columns Parquet cannot hold: the user's data
        return {"log": log.lines, "error": f"{request['function']} returned data that cannot "
                f"be passed back from its worker process: {err}", "kind": "python"}
    finally:
        con.close()


def context(request: dict, log: StepLog, con) -> Context:
    """The step's context, rebuilt in this process around its own connection."""
    window = request["window"]
    return Context(request["asset"], request["run_id"], request["partition_key"],
                   tuple(request["partition_keys"]),
                   TimeWindow(*map(datetime.fromisoformat, window)) if window else None,
                   log=log, output_dir=Path(request["output_dir"]) if request["output_dir"] else None,
                   con=con)


if __name__ == "__main__":
    main()
