"""A one-minute demo: a wide shallow ReLU net fitted to 10 square-wave points in both regimes.

The kernel regime (first layer dominant) ends near a smooth curvature-minimizing interpolant, the adaptive
regime (second layer dominant) near the piecewise-linear interpolant (Williams et al. 2019).
"""

from __future__ import annotations

import os

from .. import datasets, limits, plotting
from ..shallow import ShallowReLU
from ..training import train


def run(out_dir: str = "wideflow-out", width: int = 2_000, steps: int = 40_000, seed: int = 0, progress=None) -> str:
    """Train two nets on square10 and write `demo_fit.png/.pdf`; returns the PNG path."""
    x, y = datasets.load("square10")
    ncs = limits.natural_cubic_spline(x, y)
    lin = limits.linear_interpolant(x, y)
    fits = {}
    # (scheme, sigma_theta, sigma_c, lr / m, steps): a strongly first-layer-dominant uniform-knot init
    # (kernel regime, limit: natural cubic spline) and a second-layer-dominant Gaussian init (adaptive).
    for label, scheme, s_in, s_out, lr, n_steps in (
        ("kernel regime: |a|=100, c~1e-3", "uniform_knots", 100.0, 1e-3, 2e-5, 5 * steps),
        ("adaptive regime: (a,b)~0.1, c~1", "gaussian", 0.1, 1.0, 1e-2, steps),
    ):
        net = ShallowReLU.init(width, scheme=scheme, inner_scale=s_in, outer_scale=s_out, seed=seed, antisymmetric=True)
        run_ = train(net, x, y, lr=lr * width, steps=n_steps, progress=progress)
        fits[f"{label}, loss {run_.final_loss:.1e}"] = net
    fig, axes = plotting.figure(1, 1, width=6.0, height=4.0)
    curves = {
        "natural cubic spline": (ncs, {"color": plotting.COLORS["cubic"], "ls": "--"}),
        "linear interpolant": (lin, {"color": plotting.COLORS["linear"], "ls": ":"}),
    }
    for (label, net), color in zip(fits.items(), ("#e67e22", "#2c3e50")):
        curves[label] = (net, {"color": color})
    plotting.plot_fit(axes[0, 0], x, y, curves, title=f"width m = {width}, full-batch GD, alpha = m")
    os.makedirs(out_dir, exist_ok=True)
    files = plotting.save(fig, os.path.join(out_dir, "demo_fit"))
    return files[0]
