"""The sine10 question (issue 16): do the adaptive GD runs that stall at loss ~2.6e-3 sit on a plateau that
the exact gradient flow leaves, at a saddle, or at a stuck configuration of the flow (sliding knots)?

For (sigma_theta, sigma_c) in {(0.1, 1), (0.3, 1)} (gaussian antisymmetric init, alpha = m, seed 0, the
Williams reproduction's step eta = min(1 / lambda_max, 2e-3 alpha)): GD for `--steps` steps, then the exact
flow (rtol 1e-8) from the same init to the GD run's flow time T = eta * steps and on to `--t-far`. Printed:
the losses along both, the knot clusters of the neurons that carry the fit, the sliding neurons (their
samples and lambda_i), the flow's speed |d theta / dt| and step size at the end, and the distance of the
GD and flow fits.

    python bench/sine10_flow.py [--width 1000] [--steps 1000000] [--t-far 4e7]   (about 10 minutes)
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import wideflow as wf
from wideflow import _reference as R
from wideflow import datasets
from wideflow.tangent import learning_rate


def clusters(net, x, tol=0.02, weight=0.05):
    """Knots (inside [-1.2, 1.2]) of the neurons whose |c_i| sqrt(a_i^2 + b_i^2) is at least `weight` of the
    largest, grouped when closer than tol: (centre, count) pairs."""
    w = np.abs(net.c) * np.hypot(net.a, net.b)
    k = net.knots()
    sel = (w >= weight * w.max()) & (np.abs(k) <= 1.2)
    ks = np.sort(k[sel])
    out, start = [], 0
    for i in range(1, ks.size + 1):
        if i == ks.size or ks[i] - ks[i - 1] > tol:
            out.append((float(ks[start:i].mean()), i - start))
            start = i
    return out


def speed(net, x, y, info):
    """|d theta / dt| of the exact flow at the net's state: the gradient with the sliding neurons' (a, b)
    part projected onto their constraint a x_j + b = 0 (the Filippov field)."""
    _, ga, gb, gc = R.shallow_gradients(net.a, net.b, net.c, net.alpha, x, y)
    js = info["sliding_sample"]
    for i in np.flatnonzero(js >= 0):
        xj = x[js[i]]
        dn = (ga[i] * xj + gb[i]) / (xj * xj + 1.0)
        ga[i] -= dn * xj
        gb[i] -= dn
    return float(np.sqrt(np.sum(ga**2) + np.sum(gb**2) + np.sum(gc**2)))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--width", type=int, default=1000)
    p.add_argument("--steps", type=int, default=1_000_000)
    p.add_argument("--t-far", type=float, default=4e7)
    p.add_argument("--scales", type=float, nargs="+", default=[0.1, 0.3], help="sigma_theta values (sigma_c = 1)")
    args = p.parse_args()
    x, y = datasets.load("sine10")
    for s_in in args.scales:
        net0 = wf.ShallowReLU.init(
            args.width, scheme="gaussian", inner_scale=s_in, outer_scale=1.0, alpha="m", seed=0, antisymmetric=True
        )
        lr = learning_rate(net0, x, eta_lambda=1.0, lr_bar_cap=2e-3)
        T = lr * args.steps
        print(
            f"\n=== sine10, (sigma_theta, sigma_c) = ({s_in:g}, 1), m = {args.width}, eta = {lr:.4g}, "
            f"GD {args.steps} steps -> flow time T = {T:.4g}"
        )
        g = net0.copy()
        t0 = time.perf_counter()
        grun = wf.train(g, x, y, lr=lr, steps=args.steps, progress=False)
        print(
            f"GD: loss {grun.loss[-1]:.4e} ({time.perf_counter() - t0:.1f} s); loss at 10%/50%/100% of the "
            f"steps: {np.interp([0.1 * args.steps, 0.5 * args.steps], grun.steps, grun.loss)} {grun.loss[-1]:.4e}"
        )
        print("GD knot clusters (centre, count):", [(round(c, 3), n) for c, n in clusters(g, x)])
        f = net0.copy()
        times = np.unique(np.concatenate([[T], np.geomspace(1.0, args.t_far, 33)]))
        t0 = time.perf_counter()
        frun = wf.train(f, x, y, method="flow", t_end=T, rtol=1e-8, atol=1e-10, progress=False)
        print(
            f"flow to T: loss {frun.loss[-1]:.4e} ({time.perf_counter() - t0:.1f} s, "
            f"{frun.info['accepted']} steps, {frun.info['events']} events), sliding at T: {frun.info['sliding_at_end']}"
        )
        grid = np.linspace(-1.0, 1.0, 401)
        print(
            f"|f_GD - f_flow| at T on [-1, 1]: {np.max(np.abs(g(grid) - f(grid))):.3e}; "
            f"delta drift: flow {np.max(np.abs(f.invariant() - net0.invariant())):.2e}, "
            f"GD {np.max(np.abs(g.invariant() - net0.invariant())):.2e}"
        )
        print("flow knot clusters at T:", [(round(c, 3), n) for c, n in clusters(f, x)])
        t0 = time.perf_counter()
        far = wf.train(
            f,
            x,
            y,
            method="flow",
            t_end=args.t_far - T,
            rtol=1e-8,
            atol=1e-10,
            progress=False,
            record=times[times > T] - T,
        )
        print(
            f"flow on to t = {args.t_far:.3g}: {time.perf_counter() - t0:.1f} s, {far.info['accepted']} steps, "
            f"{far.info['rejected']} rejected, {far.info['events']} events "
            f"({far.info['sliding_entries']} sliding entries, {far.info['sliding_exits']} exits)"
        )
        for t, L, s in zip(far.t + T, far.loss, far.steps):
            print(f"   t = {t:10.4g}   loss = {L:.6e}   steps so far {s}")
        js, lam = far.info["sliding_sample"], far.info["sliding_lambda"]
        on = js >= 0
        print(
            f"sliding at t = {args.t_far:.3g}: {on.sum()} neurons; on samples x = "
            f"{sorted(set(np.round(x[js[on]], 3)))}; lambda in [{np.nanmin(lam) if on.any() else np.nan:.4f}, "
            f"{np.nanmax(lam) if on.any() else np.nan:.4f}]"
        )
        w = np.abs(f.c) * np.hypot(f.a, f.b)
        big = on & (w >= 0.05 * w.max())
        print(
            f"   of them carrying the fit (|c| |(a, b)| >= 5% of max): {big.sum()}, lambda "
            f"{np.round(np.sort(lam[big]), 4) if big.any() else []}"
        )
        print("flow knot clusters at the end:", [(round(c, 3), n) for c, n in clusters(f, x)])
        print(
            f"flow speed |d theta/dt| at the end: {speed(f, x, y, far.info):.3e}; last step size "
            f"{far.info.get('step_size', float('nan')):.3e}; residuals r_j = {f(x) - y}"
        )
        # the configuration: affine on the middle samples (no knot there), interpolating the others?
        mid = np.abs(x) < 0.4
        A = np.vstack([x[mid], np.ones(mid.sum())]).T
        res = A @ np.linalg.lstsq(A, y[mid], rcond=None)[0] - y[mid]
        k = f.knots()
        inside = (k > x[mid].min()) & (k < x[mid].max())
        print(
            f"least-squares line through the {mid.sum()} middle samples: loss {0.5 * res @ res:.10e} (flow: "
            f"{far.loss[-1]:.10e}); neurons with a knot in ({x[mid].min():.3f}, {x[mid].max():.3f}): {inside.sum()}"
        )
        r = f(x) - y
        gains = [float(r @ np.maximum(x - e, 0.0)) for e in (-0.2, -0.05, 0.05, 0.2)]
        print("dL/dc of a new neuron relu(x - e), e = -0.2, -0.05, 0.05, 0.2:", np.round(gains, 6))


if __name__ == "__main__":
    main()
