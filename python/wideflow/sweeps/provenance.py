"""Provenance of a stored run: which wideflow, built how, ran it where, with what.

Every run record holds a JSON object with

    wideflow         the package version
    git_revision     the commit the package was built from and git_dirty (uncommitted changes then), when
                     it was built from a git checkout (else null); for an editable install, the checkout's
                     current commit
    build            compiler, flags, native or portable, OpenMP (`wideflow.build_info()`)
    isa              the instruction set the kernels ran with (not part of the build's identity: every
                     ISA gives the same bits)
    numpy, python    versions; platform
    threads          kernel threads of the run; host; command (the client's command line)

A store remembers the builds that wrote it. A sweep into a store written by another version or build is
refused (results of two builds can differ in the last bits, and a study should not mix them silently) unless
`allow_mixed=True` (`--allow-mixed`); `wideflow report` lists the builds a store holds.
"""

from __future__ import annotations

import functools
import json
import os
import platform
import socket
import subprocess
import sys


def _git(package_dir: str) -> tuple[str | None, bool | None]:
    """(revision, dirty) of the wideflow checkout whose `python/wideflow` is `package_dir` (an editable
    install), or (None, None) -- also when the package merely lies inside some other repository (a
    virtual environment in a user's project)."""
    try:
        top = subprocess.run(
            ["git", "-C", package_dir, "rev-parse", "--show-toplevel"], capture_output=True, text=True, timeout=5
        )
        if top.returncode != 0:
            return None, None
        ours = os.path.join(top.stdout.strip(), "python", "wideflow")
        if not (os.path.isdir(ours) and os.path.samefile(ours, package_dir)):
            return None, None
        folder = package_dir
        rev = subprocess.run(["git", "-C", folder, "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
        dirty = subprocess.run(
            ["git", "-C", folder, "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None, None
    if rev.returncode != 0:
        return None, None
    return rev.stdout.strip() or None, bool(dirty.stdout.strip()) if dirty.returncode == 0 else None


# what identifies a build; the instruction set in use is recorded with each run but not part of it, since the
# dispatched kernels give the same bits on every ISA (tests/core/test_isa.py)
BUILD_KEYS = ("compiler", "compiler_version", "flags", "cxx_flags", "openmp", "native")


@functools.lru_cache(maxsize=1)
def build() -> dict:
    """The build of this installation (cached): version, git revision and dirty flag, build info."""
    from .. import __version__, _core

    info = {"openmp": bool(_core.openmp_enabled())}
    bi: dict = {}
    build_info = getattr(sys.modules.get("wideflow"), "build_info", None)
    if callable(build_info):  # keep what identifies the build, not what describes the machine
        bi = dict(build_info())
        info.update({k: bi[k] for k in BUILD_KEYS if k in bi and isinstance(bi[k], (str, int, float, bool))})
    # an editable install runs the checkout's Python code: ask git there (the revision compiled into the
    # extension may be older); an installed package has the revision it was built from
    rev, dirty = _git(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if rev is None:
        rev, dirty = bi.get("git_revision"), bi.get("git_dirty")
    return {"wideflow": __version__, "git_revision": rev, "git_dirty": dirty, "build": info}


def build_key(b: dict) -> str:
    """What must agree for two runs to count as the same build (canonical JSON)."""
    return json.dumps(b, sort_keys=True, separators=(",", ":"), default=str)


def describe(b: dict) -> str:
    """One line for messages: version, revision, compiler, native or portable build."""
    rev = b.get("git_revision")
    bits = [f"wideflow {b.get('wideflow')}"]
    if rev:
        bits.append(f"git {rev[:12]}{'+dirty' if b.get('git_dirty') else ''}")
    info = b.get("build") or {}
    if info.get("compiler"):
        bits.append(str(info["compiler"]))
    if "native" in info:
        bits.append("native" if info["native"] else "portable")
    return ", ".join(bits)


def run_provenance(threads: int | None) -> dict:
    """The provenance of a run executed here (on a worker: that worker's numpy, host, ...)."""
    import numpy as np

    from .. import _core

    nthreads = threads if isinstance(threads, int) and threads > 0 else int(_core.threads_available())
    isa = None
    build_info = getattr(sys.modules.get("wideflow"), "build_info", None)
    if callable(build_info):
        isa = dict(build_info()).get("isa")
    return {
        **build(),
        "isa": isa,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "threads": nthreads,
        "host": socket.gethostname(),
    }


def command_line() -> str:
    """The command that started this process, e.g. ``python -m wideflow sweep spec.toml --out out``."""
    import shlex

    argv = list(getattr(sys, "orig_argv", None) or sys.argv)
    if argv:
        argv[0] = os.path.basename(argv[0])
    return shlex.join(argv)
