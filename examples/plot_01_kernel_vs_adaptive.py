"""
Kernel vs adaptive fit of the square wave
=========================================

Ten points of a square wave are fitted by two wide shallow ReLU nets that differ only in the relative
scale of their layers (Williams et al. 2019):

* **kernel regime**: the first layer dominates (``|a_i| = 100``, ``c_i ~ 1e-3``), the knots barely move and
  the fit approaches the curvature-minimizing interpolant, for uniformly spread knots the natural cubic
  spline;
* **adaptive regime**: the second layer dominates (``(a_i, b_i) ~ 0.1``, ``c_i ~ 1``), the knots travel to
  the data and the fit approaches the piecewise-linear interpolant.

Both are trained by full-batch gradient descent with the mean-field scaling ``alpha = m``, where the step
is ``lr * m`` (see :doc:`/guide/training`).
"""

import matplotlib.pyplot as plt
import numpy as np

import wideflow as wf
from wideflow import datasets, limits
from wideflow.tangent import learning_rate

x, y = datasets.load("square10")
m = 2000

kernel_net = wf.ShallowReLU.init(
    m, scheme="uniform_knots", inner_scale=100.0, outer_scale=1e-3, L=2.0, antisymmetric=True, seed=0
)
c_only = limits.min_norm_outer_interpolant(kernel_net, x=x, y=y)  # the same features, only c trained
# eta = 1 / lambda_max of the tangent kernel at init (capped at 2e-3 * m): stable for the whole run
kernel_run = wf.train(kernel_net, x, y, lr=learning_rate(kernel_net, x), steps=400_000, progress=False)

adaptive_net = wf.ShallowReLU.init(m, scheme="gaussian", inner_scale=0.1, outer_scale=1.0, antisymmetric=True, seed=0)
adaptive_run = wf.train(adaptive_net, x, y, lr=1e-2 * m, steps=40_000, progress=False)
print("kernel:  ", kernel_run)
print("adaptive:", adaptive_run)

# %%
# The limits, each one function of :mod:`wideflow.limits`: the natural cubic spline, the linear
# interpolant, the exact infinite-width kernel interpolant of the uniform-knots init on [-L, L], and the
# minimum-norm interpolant of the kernel net's own random features (its limit if only ``c`` were trained).
ncs = limits.natural_cubic_spline(x, y)
linear = limits.linear_interpolant(x, y)
k_inf = limits.kernel_interpolant(x, y, lambda s, t: limits.kernel_uniform_knots(s, t, L=2.0))

for name, net in (("kernel", kernel_net), ("adaptive", adaptive_net)):
    d = {
        ref: limits.distance(net, f, -1, 1)["sup"]
        for ref, f in (("cubic spline", ncs), ("m = inf kernel", k_inf), ("c-only, same m", c_only), ("linear", linear))
    }
    print(f"{name:9s}" + "  ".join(f"sup|f - {k}| = {v:.3f}" for k, v in d.items()))

# %%
# The kernel fit sits close to the c-only interpolant of its own features; that interpolant differs from
# the cubic spline by the Monte-Carlo error of m random features, which falls like m^(-1/2) (see
# :ref:`sphx_glr_auto_examples_plot_03_width_scaling.py`). The adaptive fit is within a few thousandths
# of the linear interpolant.

# %%
# Plot both fits over the data and the limits.
t = np.linspace(-1.3, 1.3, 801)
fig, ax = plt.subplots(figsize=(6.4, 4))
ax.plot(t, ncs(t), "--", color="tab:green", label="natural cubic spline")
ax.plot(t, linear(t), ":", color="tab:red", label="linear interpolant")
ax.plot(t, kernel_net(t), color="tab:orange", label=f"kernel regime (loss {kernel_run.final_loss:.1e})")
ax.plot(t, adaptive_net(t), color="tab:blue", label=f"adaptive regime (loss {adaptive_run.final_loss:.1e})")
ax.plot(x, y, "ko", ms=4)
ax.set(xlabel="x", ylabel="f(x)", title=f"m = {m}, full-batch GD, alpha = m", ylim=(-2, 2))
ax.legend(fontsize=8, loc="lower left")
fig.tight_layout()
