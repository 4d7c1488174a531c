"""Timing and memory probes shared by the benchmark harness (`wideflow.benchmark`) and the scripts in bench/:
the machine line, medians of repeats, a same-run copy-bandwidth probe, interleaved timing of two paths,
and the peak RSS of a fresh process. Re-exported by `wideflow.benchmark`."""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time

import numpy as np

from . import _core


# ---------------------------------------------------------------------------------------------- machine
def machine_line() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        import torch

        torch_version = torch.__version__
    except ImportError:
        torch_version = None
    from . import __version__

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "threads_available": _core.threads_available(),
        "openmp": _core.openmp_enabled(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch_version,
        "wideflow": __version__,
        "platform": platform.platform(),
        "isa": _core.isa(),
        "build": {k: v for k, v in _core.build_config().items() if k != "build_type"},
        "load_avg": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }


def median_time(fn, repeats: int, min_time: float = 0.0) -> float:
    """Median wall time of fn() over `repeats` calls (after one warm-up call)."""
    fn()
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < repeats or (time.perf_counter() - start < min_time and len(times) < 50):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def copy_bandwidth(nbytes: int = 256 << 20, repeats: int = 7) -> float:
    """Bytes/s of np.copyto between two arrays (counting the read and the write)."""
    src = np.ones(nbytes // 8)
    dst = np.empty_like(src)
    t = median_time(lambda: np.copyto(dst, src), repeats)
    return 2 * nbytes / t


# ---------------------------------------------------------------------------------------------- two paths
def interleaved(cases: dict, rounds: int, pause: float = 0.05, warm: bool = True, stat: str = "median") -> dict:
    """Seconds of each callable in `cases` ({name: fn}), timed in turn (A B C A B C ...) so that all of them
    see the same background load on a shared machine; one warm-up call each first (if warm). stat: "median"
    or "min" over the rounds (on a loaded machine the minimum is the better estimate of the cost itself);
    the other statistic is returned under "<name>:median" / "<name>:min"."""
    for fn in cases.values() if warm else ():
        fn()
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, fn in cases.items():
            time.sleep(pause)  # let the other implementation's thread pool go idle
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    out = {}
    for name, v in times.items():
        med, best = statistics.median(v), min(v)
        out[name] = best if stat == "min" else med
        out[f"{name}:median"], out[f"{name}:min"] = med, best
    return out


_RSS_CHILD = """
import sys, time
import numpy as np
import wideflow as wf

def hwm():  # this process's peak resident set (VmHWM: fresh after exec, unlike ru_maxrss after a fork)
    with open("/proc/self/status") as fh:
        return [int(ln.split()[1]) * 1024 for ln in fh if ln.startswith("VmHWM")][0]

{setup}
base = hwm()
t0 = time.perf_counter()
{body}
wall = time.perf_counter() - t0
print("RSS", base, hwm(), wall, flush=True)
"""


def peak_rss(setup: str, body: str, timeout: float = 3600.0) -> dict:
    """Peak resident memory of `setup` + `body` run in a fresh Python process (VmHWM), with the peak
    after `setup` alone (imports, data) and the wall time of `body`. Bytes."""
    import subprocess

    code = _RSS_CHILD.format(setup=setup, body=body)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout)
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("RSS")]
    if out.returncode != 0 or not line:
        raise RuntimeError(f"peak_rss child failed ({out.returncode}): {out.stderr[-2000:]}")
    _, base, peak, wall = line[0].split()
    return {"rss_after_setup": int(base), "peak_rss": int(peak), "wall_s": float(wall)}


def rss_verdict(peak: int, param_bytes: int) -> str:
    """The memory target of a training run: peak RSS <= 1.15 x parameter bytes + 200 MB."""
    limit = 1.15 * param_bytes + 200e6
    return f"{peak / 1e6:.0f} MB ({'<=' if peak <= limit else '>'} {limit / 1e6:.0f} MB target)"


def two_path_table(rows: list, echo=print) -> None:
    """Print rows {case, steps, kernel_s, train_s, ...} as the kernel vs wf.train table (rates: best of the
    rounds; the ratio of the medians beside it)."""
    echo(f"{'case':<34}{'steps':>7}{'kernel ms/step':>16}{'wf.train ms/step':>18}{'train/kernel':>14}{'(medians)':>11}")
    for r in rows:
        med = r.get("ratio_of_medians")
        echo(
            f"{r['case']:<34}{r['steps']:>7}{1e3 * r['kernel_s'] / r['steps']:>16.4f}"
            f"{1e3 * r['train_s'] / r['steps']:>18.4f}{r['kernel_s'] / r['train_s']:>14.3f}"
            f"{(f'{med:.3f}' if med else ''):>11}"
        )


def timed_calls(fn, repeats: int) -> list:
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out
