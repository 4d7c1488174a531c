"""The exact ReLU flow (method="flow", events=True) against the GD run it replaces (issue 16).

Problem: the Williams et al. adaptive regime on square10 (gaussian antisymmetric init, (sigma_theta,
sigma_c) = (0.1, 1), alpha = m, seed 0), GD with the reproduction's step eta = min(1 / lambda_max(J J^T),
2e-3 alpha). The flow is integrated to the GD run's flow time T = eta * steps at rtol = 1e-8, and timed
against the GD run in the same process (median of repeats; single-threaded, so that the ratio does not
depend on the load of a shared machine). Reported per row: wall times and their ratio, gradient
evaluations vs GD steps, events, sliding neurons at the end, the distance of the two fits on a grid of
[-1, 1], and the drift of delta_i = c_i^2 - a_i^2 - b_i^2 (exact along the flow, O(eta) along GD).
Also the plain integrator (events=False) on the same problem for a short flow time, for comparison.

    python bench/bench_relu_flow.py [--steps 10000 100000 1000000] [--wide 100000 --wide-steps 10000] [--out FILE]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import wideflow as wf
from wideflow import datasets
from wideflow.benchmark import append_jsonl, machine_line
from wideflow.tangent import learning_rate


def timed(fn, repeats):
    out, times = None, []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return out, statistics.median(times)


def adaptive_net(m, s_in=0.1, s_out=1.0, seed=0):
    return wf.ShallowReLU.init(
        m, scheme="gaussian", inner_scale=s_in, outer_scale=s_out, alpha="m", seed=seed, antisymmetric=True
    )


def row(m, steps, x, y, repeats, rtol=1e-8, dataset="square10"):
    net0 = adaptive_net(m)
    lr = learning_rate(net0, x, eta_lambda=1.0, lr_bar_cap=2e-3)
    T = lr * steps
    d0 = net0.invariant()

    def gd():
        net = net0.copy()
        run = wf.train(net, x, y, lr=lr, steps=steps, threads=1, progress=False)
        return net, run

    def flow():
        net = net0.copy()
        run = wf.train(net, x, y, method="flow", t_end=T, rtol=rtol, atol=rtol * 1e-2, threads=1, progress=False)
        return net, run

    (g, grun), t_gd = timed(gd, repeats)
    (f, frun), t_flow = timed(flow, repeats)
    grid = np.linspace(-1.0, 1.0, 401)
    out = {
        "dataset": dataset,
        "m": m,
        "gd_steps": steps,
        "lr": lr,
        "T": T,
        "rtol": rtol,
        "gd_sec": t_gd,
        "flow_sec": t_flow,
        "ratio": t_flow / t_gd,
        "gd_loss": float(grun.loss[-1]),
        "flow_loss": float(frun.loss[-1]),
        "fit_distance": float(np.max(np.abs(g(grid) - f(grid)))),
        "delta_drift_flow": float(np.max(np.abs(f.invariant() - d0))),
        "delta_drift_gd": float(np.max(np.abs(g.invariant() - d0))),
        "status": frun.status,
    }
    out.update(
        {
            k: int(frun.info[k])
            for k in (
                "accepted",
                "rejected",
                "gradient_evals",
                "events",
                "crossings",
                "sliding_entries",
                "sliding_exits",
                "sliding_at_end",
            )
        }
    )
    return out


def plain_row(m, x, y, T, rtol=1e-8):
    """events=False (the plain adaptive RK) on the same problem to a short flow time."""
    net0 = adaptive_net(m)
    res = {}
    for events in (True, False):
        net = net0.copy()
        t0 = time.perf_counter()
        run = wf.train(
            net, x, y, method="flow", t_end=T, rtol=rtol, atol=rtol * 1e-2, threads=1, progress=False, events=events
        )
        res[events] = (time.perf_counter() - t0, run.info["gradient_evals"], net)
    grid = np.linspace(-1.0, 1.0, 401)
    return {
        "m": m,
        "T": T,
        "events_sec": res[True][0],
        "plain_sec": res[False][0],
        "events_evals": res[True][1],
        "plain_evals": res[False][1],
        "fit_distance": float(np.max(np.abs(res[True][2](grid) - res[False][2](grid)))),
    }


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "--steps", type=int, nargs="*", default=[10_000, 100_000, 1_000_000], help="GD steps (m = 1000 rows)"
    )
    p.add_argument("--wide", type=int, default=100_000, help="width of the wide row")
    p.add_argument(
        "--wide-steps", type=int, default=10_000, help="GD steps of the wide row (the Williams budget, 10^4)"
    )
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", default="")
    args = p.parse_args(argv)
    x, y = datasets.load("square10")
    machine = machine_line()
    print(machine)
    rows = []
    for steps in args.steps:
        rows.append(row(1000, steps, x, y, args.repeats if steps <= 100_000 else 1))
    if args.wide:
        rows.append(row(args.wide, args.wide_steps, x, y, 1))
    print("\nexact flow (rtol 1e-8) vs GD to the same flow time, adaptive (0.1, 1), square10, 1 thread")
    print(
        f"{'m':>7}{'GD steps':>10}{'T':>10}{'GD s':>9}{'flow s':>9}{'ratio':>7}{'evals':>9}{'events':>9}"
        f"{'slide@end':>10}{'|f_gd - f_flow|':>16}{'d-drift flow':>13}{'d-drift GD':>11}  status"
    )
    for r in rows:
        print(
            f"{r['m']:>7}{r['gd_steps']:>10}{r['T']:>10.3g}{r['gd_sec']:>9.3f}{r['flow_sec']:>9.3f}{r['ratio']:>7.2f}"
            f"{r['gradient_evals']:>9}{r['events']:>9}{r['sliding_at_end']:>10}{r['fit_distance']:>16.2e}"
            f"{r['delta_drift_flow']:>13.1e}{r['delta_drift_gd']:>11.1e}  {r['status']}"
        )
    pr = plain_row(1000, x, y, T=200.0)
    print(
        f"\nevents=True vs events=False (plain RK) to T = {pr['T']:g}, m = 1000: {pr['events_sec']:.3f} s "
        f"({pr['events_evals']} evals) vs {pr['plain_sec']:.2f} s ({pr['plain_evals']} evals); fits differ by "
        f"{pr['fit_distance']:.1e}"
    )
    if args.out:
        append_jsonl(
            args.out,
            [dict({"kind": "relu_flow_vs_gd"}, **r, machine=machine) for r in rows]
            + [dict({"kind": "relu_flow_events_vs_plain"}, **pr, machine=machine)],
        )


if __name__ == "__main__":
    main()
