"""The event-aware flow of a deep ReLU net (method="flow", events=True) against the plain Runge-Kutta pair
(events=False) and gradient descent, to the same flow time, through transversal kinks (seeds 1, 4) and
through sliding pre-activations (seeds 2, 3).

Problem: the test problem of tests/training/test_deep_flow_events.py (6 samples in R^2, layers 2-4-3-1,
biases, ReLU), to T = 3. Reference: the event flow at rtol = 1e-12.
Per row: wall time (median of the repeats), gradient evaluations (GD: steps), events, and the largest parameter
error against the reference.

    python bench/bench_deep_events.py [--seeds 1 4 2 3] [--T 3] [--repeats 3] [--out FILE]
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import numpy as np

import wideflow as wf
from wideflow.benchmark import append_jsonl, machine_line


def problem(seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(6, 2))
    Y = rng.normal(size=(6, 1))
    ws = [0.8 * rng.normal(size=(4, 2)), 0.8 * rng.normal(size=(3, 4)), 0.8 * rng.normal(size=(1, 3))]
    bs = [0.3 * rng.normal(size=4), 0.3 * rng.normal(size=3), np.zeros(1)]
    return wf.DeepNet(ws, activation="relu", biases=bs), X, Y


def run(net0, X, Y, repeats, **kw):
    times, out = [], None
    for _ in range(repeats):
        net = net0.copy()
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = wf.train(net, X, Y, progress=False, **kw)
        times.append(time.perf_counter() - t0)
        out = (net, r)
    return out[0], out[1], statistics.median(times)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seeds", type=int, nargs="*", default=[1, 4, 2, 3])
    p.add_argument("--T", type=float, default=3.0)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", default="")
    args = p.parse_args(argv)
    machine = machine_line()
    print(machine)
    rows = []
    for seed in args.seeds:
        net0, X, Y = problem(seed)
        ref, rref, _ = run(net0, X, Y, 1, method="flow", t_end=args.T, rtol=1e-12, atol=1e-14)
        if rref.status != "completed":
            print(f"seed {seed}: the reference flow stopped ({rref.info.get('error', '')}); skipped")
            continue

        def err(net, ref=ref):
            return max(float(np.max(np.abs(a - b))) for a, b in zip(net.weights, ref.weights))

        cases = [("events", dict(method="flow", t_end=args.T, rtol=r, atol=r * 1e-2)) for r in (1e-6, 1e-8, 1e-10)]
        cases += [
            ("plain", dict(method="flow", t_end=args.T, rtol=r, atol=r * 1e-2, events=False)) for r in (1e-4, 1e-6)
        ]
        cases += [("gd", dict(lr=lr, steps=int(round(args.T / lr)), metrics=False)) for lr in (1e-3, 1e-4)]
        for name, kw in cases:
            net, r, sec = run(net0, X, Y, args.repeats, **kw)
            rows.append(
                {
                    "seed": seed,
                    "method": name,
                    "rtol": kw.get("rtol"),
                    "lr": kw.get("lr"),
                    "sec": sec,
                    "evals": int(r.info.get("gradient_evals", kw.get("steps", 0))),
                    "events": int(r.info.get("events", 0)),
                    "sliding": int(r.info.get("sliding_entries", 0)),
                    "error": err(net),
                    "status": r.status,
                }
            )
    print(f"\ndeep ReLU 2-4-3-1, 6 samples, to T = {args.T}: error = max |theta - theta_ref| (event flow, rtol 1e-12)")
    print(
        f"{'seed':>5}{'method':>8}{'rtol / lr':>11}{'time s':>10}{'evals':>9}{'events':>8}{'sliding':>8}{'error':>10}  status"
    )
    for r in rows:
        knob = r["rtol"] if r["rtol"] is not None else r["lr"]
        print(
            f"{r['seed']:>5}{r['method']:>8}{knob:>11.0e}{r['sec']:>10.4f}{r['evals']:>9}{r['events']:>8}{r['sliding']:>8}"
            f"{r['error']:>10.1e}  {r['status']}"
        )
    if args.out:
        append_jsonl(args.out, [dict({"kind": "deep_events"}, **r, machine=machine) for r in rows])


if __name__ == "__main__":
    main()
