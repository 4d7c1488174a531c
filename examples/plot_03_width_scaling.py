"""
Width scaling toward the kernel limit
=====================================

When only the outer weights ``c`` are trained, a shallow ReLU net is a random-feature model and gradient
descent converges to the minimum-norm interpolant of its ``m`` features,
:func:`wideflow.limits.min_norm_outer_interpolant`. As ``m`` grows, that interpolant approaches the
infinite-width kernel interpolant, :func:`wideflow.limits.kernel_interpolant` with the kernel of the
initialization; for knots spread uniformly on ``[-L, L]`` the kernel is
:func:`wideflow.limits.kernel_uniform_knots`, whose interpolant is close to the natural cubic spline.

The distance falls like the Monte-Carlo rate ``m^(-1/2)``. Beyond ``m = 10^5``,
:mod:`wideflow.random_features` computes the same limit from one streamed pass that never stores the
``n x m`` features (nor, for drawn neurons, the parameters), so ``m = 10^7`` takes a fraction of a second.
(``wideflow reproduce williams2019`` runs the same study up to ``m = 10^8``, and full gradient descent up
to ``m = 10^6``; the bundled sweep ``width_scaling`` runs a version of it as a study.) Every distance is
measured on the data hull ``[-1, 1]``: the natural spline is linear outside the data, the kernel
interpolant is not.
"""

import matplotlib.pyplot as plt
import numpy as np

import wideflow as wf
from wideflow import datasets, limits, plotting, random_features

x, y = datasets.load("square10")
L = 2.0
k_inf = limits.kernel_interpolant(x, y, lambda s, t: limits.kernel_uniform_knots(s, t, L=L))
ncs = limits.natural_cubic_spline(x, y)
print(f"sup |kernel limit - natural cubic spline| on [-1, 1] = {limits.distance(k_inf, ncs, -1, 1)['sup']:.4f}")

widths = [100, 300, 1000, 3000, 10_000, 30_000, 100_000]
seeds = range(4)
dist = np.empty((len(widths), len(seeds)))
for i, m in enumerate(widths):
    for j, seed in enumerate(seeds):
        net = wf.ShallowReLU.init(m, scheme="uniform_knots", L=L, antisymmetric=True, seed=seed)
        f_m = limits.min_norm_outer_interpolant(net, x=x, y=y)
        dist[i, j] = limits.distance(f_m, k_inf, -1, 1, points=501)["sup"]
    print(f"m = {m:>7d}: mean sup distance {dist[i].mean():.4f}")

# %%
# Wider, by the streamed pass: the neurons are drawn inside the pass (from the same laws, with their own
# counter-based generator), m/2 of them doubled antisymmetrically as above.
t = np.linspace(-1, 1, 501)
wide = [1_000_000, 10_000_000]
dist_wide = np.empty((len(wide), len(seeds)))
for i, m in enumerate(wide):
    for j, seed in enumerate(seeds):
        f_m = random_features.outer_limit_at_width(m, x, y, t, scheme="uniform_knots", L=L, seed=seed)
        dist_wide[i, j] = np.max(np.abs(f_m.values - k_inf(t)))
    print(f"m = {m:>8d}: mean sup distance {dist_wide[i].mean():.5f} (streamed)")
widths, dist = widths + wide, np.vstack([dist, dist_wide])

# %%
# Log-log plot with the fitted slope (the dashed line; -1/2 is the Monte-Carlo rate).
fig, ax = plt.subplots(figsize=(5.6, 4))
mean = dist.mean(axis=1)
slope, _ = plotting.plot_scaling(
    ax,
    widths,
    mean,
    spread=(dist.min(axis=1), dist.max(axis=1)),
    label="sup |f_m - f_inf|",
    ylabel="distance on [-1, 1]",
)
ax.legend()
ax.set_title("c-only limit of width m vs the m = infinity kernel interpolant")
fig.tight_layout()
print(f"fitted slope {slope:.2f}")
