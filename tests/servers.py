"""Real servers on loopback for remote-source tests: an S3-compatible store (moto's server, in
a subprocess) and a plain HTTP file server with HEAD and Range (what DuckDB's httpfs needs)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from email.utils import formatdate
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def extensions_required() -> bool:
    """DUCK_REQUIRE_EXTENSIONS=1 (the pinned CI pass): a missing extension fails, not skips."""
    return os.environ.get("DUCK_REQUIRE_EXTENSIONS") == "1"


def need_extension(name: str) -> None:
    """Skip (or, where extensions are required, fail) unless ``name`` loads here."""
    from duck_cli.engine import duckdb
    from duck_cli.state import extensions

    con = duckdb.connect()
    try:
        extensions.load(con, (name,), Path(os.environ.get("TMPDIR", "/tmp")) / "duck-ext-probe")
    except Exception as err:  # noqa: BLE001 - the reason goes into the skip message
        if extensions_required():
            pytest.fail(f"DUCK_REQUIRE_EXTENSIONS=1 but the {name} extension cannot load: {err}")
        pytest.skip(f"the {name} extension is not installed for this DuckDB "
                    "(pip install 'duck-cli[remote]')")
    finally:
        con.close()


class RangeHandler(SimpleHTTPRequestHandler):
    """Static files with byte ranges, Last-Modified and an ETag, quietly; every request's method
    and path is appended to ``requests`` (what a test asks the server about).

    The ETag is a common static server's (nginx's): hex mtime and size, not the bytes, so the
    same bytes written again get a new one."""

    requests: list = []

    def log_message(self, *args) -> None:  # keep pytest's output clean
        pass

    def send_head(self):
        path = self.translate_path(self.path)
        if not os.path.isfile(path):
            self.send_error(404, "not found")
            return None
        self.requests.append((self.command, self.path))
        size, mtime = os.path.getsize(path), os.stat(path).st_mtime_ns
        start, end = 0, size - 1
        ranged = self.headers.get("Range", "").startswith("bytes=")
        if ranged:
            first, _, last = self.headers["Range"][6:].partition("-")
            start = int(first) if first else max(0, size - int(last))
            end = min(int(last), size - 1) if first and last else size - 1
        self.send_response(206 if ranged else 200)
        self.send_header("Content-Type", "text/csv")
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Last-Modified", formatdate(os.path.getmtime(path), usegmt=True))
        self.send_header("ETag", f'"{mtime:x}-{size:x}"')
        self.send_header("Content-Length", str(end - start + 1))
        if ranged:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.end_headers()
        f = open(path, "rb")
        f.seek(start)
        self._remaining = end - start + 1
        return f

    def copyfile(self, source, outputfile):
        outputfile.write(source.read(self._remaining))


@pytest.fixture
def http_server(tmp_path):
    """A folder served over HTTP on a free loopback port: (folder, base URL, requests), where
    requests lists the (method, path) of every request for a file."""
    folder = tmp_path / "served"
    folder.mkdir()
    requests: list = []

    class Handler(RangeHandler):
        pass

    Handler.requests = requests

    def handler(*args, **kw):
        return Handler(*args, directory=str(folder), **kw)

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield folder, f"http://127.0.0.1:{server.server_address[1]}", requests
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="session")
def s3_server():
    """moto's S3-compatible server on a free loopback port: its endpoint (host:port)."""
    exe = shutil.which("moto_server") or str(Path(sys.executable).with_name("moto_server"))
    if not Path(exe).exists():
        if extensions_required():
            pytest.fail("moto_server is not installed (pip install 'moto[server]')")
        pytest.skip("moto_server is not installed (pip install 'moto[server]')")
    port = free_port()
    proc = subprocess.Popen([exe, "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.1)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
