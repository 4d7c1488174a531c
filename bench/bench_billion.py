"""A 10^9-neuron float32 shallow ReLU net (12 GB of parameters) trained as a user would, on one machine.

    python bench/bench_billion.py [--m 1e9] [--steps 10] [--out bench/results/billion.jsonl]

Initializes the net (`ShallowReLU.init`, float32), trains it with `wf.train` (default options: divergence
safety on, log record) on 10 samples for `--steps` steps, evaluates it at 1000 points, and reports the
time of each phase, the seconds per step and this process's peak resident memory (VmHWM) against the
memory target 1.15 x parameter bytes + 200 MB. Run it alone on the machine: it needs about 12.3 GB free.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np


def _status(field: str) -> int:
    with open("/proc/self/status") as fh:
        return [int(ln.split()[1]) * 1024 for ln in fh if ln.startswith(field)][0]


def _available() -> int:
    with open("/proc/meminfo") as fh:
        return [int(ln.split()[1]) * 1024 for ln in fh if ln.startswith("MemAvailable")][0]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--m", type=float, default=1e9)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--lr", type=float, default=1e-3, help="step size in units of alpha = m")
    p.add_argument(
        "--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "billion.jsonl")
    )
    args = p.parse_args(argv)
    m = int(args.m)
    param_bytes = 3 * m * 4
    need = param_bytes + (400 << 20)
    if _available() < need:
        print(
            f"not enough free memory: {param_bytes / 1e9:.1f} GB of parameters need about {need / 1e9:.1f} GB, "
            f"{_available() / 1e9:.1f} GB available",
            file=sys.stderr,
        )
        return 2
    import wideflow as wf
    from wideflow.benchmark import append_jsonl, machine_line, square_wave

    base = _status("VmRSS")
    x, y = square_wave(10)
    t0 = time.perf_counter()
    net = wf.ShallowReLU.init(m, dtype="float32", seed=0)
    t_init = time.perf_counter() - t0
    rss_init = _status("VmHWM")
    print(f"init: {t_init:.1f} s, peak RSS {rss_init / 1e9:.2f} GB (parameters {param_bytes / 1e9:.2f} GB)", flush=True)
    t0 = time.perf_counter()
    run = wf.train(net, x, y, lr=args.lr * m, steps=args.steps, progress=False)
    t_train = time.perf_counter() - t0
    print(
        f"train: {run} in {t_train:.1f} s ({t_train / args.steps:.2f} s/step end to end), "
        f"loss {run.loss[0]:.4g} -> {run.final_loss:.4g}",
        flush=True,
    )
    xe = np.linspace(-1.0, 1.0, 1000)
    t0 = time.perf_counter()
    fe = net(xe)
    t_eval = time.perf_counter() - t0
    peak = _status("VmHWM")
    limit = 1.15 * param_bytes + 200e6
    print(
        f"evaluate at 1000 points: {t_eval:.2f} s; peak RSS {peak / 1e9:.2f} GB "
        f"({'within' if peak <= limit else 'over'} the target {limit / 1e9:.2f} GB); "
        f"rss before init {base / 1e6:.0f} MB",
        flush=True,
    )
    row = {
        "kind": "billion",
        "m": m,
        "dtype": "float32",
        "n": 10,
        "steps": args.steps,
        "status": run.status,
        "loss0": float(run.loss[0]),
        "final_loss": run.final_loss,
        "init_s": t_init,
        "train_s": t_train,
        "sec_per_step_end_to_end": t_train / args.steps,
        "eval_s": t_eval,
        "eval_finite": bool(np.isfinite(fe).all()),
        "param_bytes": param_bytes,
        "peak_rss": peak,
        "peak_rss_after_init": rss_init,
        "rss_start": base,
        "target_bytes": limit,
        "met": peak <= limit,
        "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "machine": machine_line(),
    }
    append_jsonl(args.out, [row])
    print(f"appended to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
