"""Helpers of the hostile-input suite (tests/hostile): subprocess runners for the signal tests and a
guard that records the state of a folder outside the store, to show that nothing there was written."""

from __future__ import annotations

import os
import sys
import textwrap
import time

import pytest


def snapshot_tree(root) -> dict:
    """{relative path: (kind, size, mtime_ns, ctime_ns, content hash)} of everything under root (links not
    followed): any write, creation, deletion or chmod outside the store shows up as a difference."""
    import hashlib

    out = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            digest = None
            if os.path.isfile(path) and not os.path.islink(path):
                with open(path, "rb") as fh:
                    digest = hashlib.sha256(fh.read()).hexdigest()
            out[os.path.relpath(path, root)] = (st.st_mode, st.st_size, st.st_mtime_ns, st.st_ctime_ns, digest)
    return out


@pytest.fixture
def outside(tmp_path):
    """A folder beside the store holding a sentinel file; `outside.check()` asserts it is untouched."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "sentinel.txt").write_text("do not touch\n")

    class Guard:
        path = folder

        def __init__(self):
            self.before = None

        def arm(self):
            self.before = snapshot_tree(folder)
            return self

        def check(self):
            assert snapshot_tree(folder) == self.before, "something outside the store was written"

    return Guard().arm()


def python_script(code: str) -> list[str]:
    return [sys.executable, "-c", textwrap.dedent(code)]


def session_processes(sid: int) -> list[int]:
    """Pids of live (non-zombie) processes whose session id is `sid` (Linux /proc)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                stat = fh.read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        state, session = fields[0], int(fields[3])
        if session == sid and state != "Z":
            pids.append(int(entry))
    return pids


def wait_for_line(proc, stream, needle: str, timeout: float) -> list[str]:
    """Read lines of `stream` until one contains `needle` (fails after `timeout` seconds)."""
    import selectors

    sel = selectors.DefaultSelector()
    sel.register(stream, selectors.EVENT_READ)
    lines, buf, deadline = [], b"", time.monotonic() + timeout
    fd = stream.fileno()
    while time.monotonic() < deadline:
        if not sel.select(timeout=0.05):
            if proc.poll() is not None:
                break
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            lines.append(line.decode(errors="replace"))
            if needle in lines[-1]:
                return lines
    raise AssertionError(f"never saw {needle!r} within {timeout} s; got: {lines[-20:]} {buf[-500:]!r}")


def pytest_collection_modifyitems(items):
    for item in items:
        if "hostile" in str(item.fspath):
            item.add_marker(pytest.mark.hostile)
