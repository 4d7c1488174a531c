"""
Gradient flow vs gradient descent, and the conserved delta
==========================================================

Under gradient flow every neuron of a shallow ReLU net keeps its **layer imbalance**
``delta_i = c_i^2 - a_i^2 - b_i^2``: the rescaling symmetry ``(a, b, c) -> (l a, l b, c / l)`` is behind
it (see :doc:`/theory/williams2019`). Gradient descent with step ``eta`` changes it by exactly
``eta^2 ((dL/dc_i)^2 - (dL/da_i)^2 - (dL/db_i)^2)`` per step, so at a fixed flow time ``t = eta * steps``
the drift is ``O(eta)``: halving the step halves it.

``wf.train(..., method="flow")`` integrates the flow itself with an adaptive Runge-Kutta pair whose stages
call the same fused kernels. On a ReLU net the gradient jumps whenever a knot crosses a data point; the
exact flow (the default, ``events=True``) locates each such kink, cuts the step there and lets knots that
the flow holds on a sample slide on it, so its cost grows only slowly as ``rtol`` shrinks (the plain
integrator, ``events=False``, pays roughly ``1 / rtol``; see :doc:`/guide/flow`). This example puts both
methods on one axis: the drift of ``delta`` against the number of gradient evaluations.
"""

import matplotlib.pyplot as plt
import numpy as np

import wideflow as wf
from wideflow import datasets, limits

x, y = datasets.load("square10")
m, T = 100, 10.0  # flow time t = T * m (with alpha = m a GD step of lr * m advances t by lr * m)
net0 = wf.ShallowReLU.init(m, scheme="gaussian", inner_scale=1.0, outer_scale=1.0, seed=0)  # balanced

flows = {}
for rtol in (1e-4, 1e-5, 1e-6):
    net = net0.copy()
    run = wf.train(net, x, y, method="flow", t_end=T * m, rtol=rtol, atol=rtol, progress=False)
    flows[rtol] = (run, limits.invariant_drift(net0, net))
    print(
        f"flow rtol={rtol:g}: {run.info['gradient_evals']:>7d} gradient evaluations, "
        f"{run.info['rejected']} rejected steps, loss {run.final_loss:.6f}, delta drift {flows[rtol][1]:.2e}"
    )

gds = {}
for lr in (8e-3, 4e-3, 2e-3, 1e-3, 5e-4):
    net = net0.copy()
    run = wf.train(net, x, y, lr=lr * m, steps=int(round(T / lr)), progress=False)
    gds[lr] = (run, limits.invariant_drift(net0, net))
    print(f"GD lr={lr:g} x m: {run.final_step:>7d} steps, loss {run.final_loss:.6f}, delta drift {gds[lr][1]:.2e}")

# %%
# Left: the loss against flow time (all runs lie on top of each other at this scale). Right: the drift of
# delta against the work, one gradient evaluation per GD step and per Runge-Kutta stage.
fig, axes = plt.subplots(1, 2, figsize=(9.6, 3.8))
run = flows[1e-6][0]
axes[0].semilogx(run.t[1:] / m, run.loss[1:], "k", lw=2.5, label="gradient flow, rtol 1e-6")
for lr in (8e-3, 1e-3):
    r = gds[lr][0]
    axes[0].semilogx(r.t[1:] / m, r.loss[1:], lw=1, label=f"GD, lr = {lr:g} m")
axes[0].set(xlabel="flow time t / m", ylabel="loss", title="loss against flow time")
axes[0].legend(fontsize=8)
evals = [r.info["gradient_evals"] for r, _ in flows.values()]
axes[1].loglog(evals, [d for _, d in flows.values()], "s-", label="gradient flow (rtol 1e-4 ... 1e-6)")
axes[1].loglog(
    [r.final_step for r, _ in gds.values()], [d for _, d in gds.values()], "o-", label="GD (lr 8e-3 ... 5e-4, x m)"
)
steps = np.array([r.final_step for r, _ in gds.values()], dtype=float)
axes[1].loglog(steps, gds[5e-4][1] * steps[-1] / steps, "k--", lw=0.8, label="drift ~ lr")
axes[1].set(
    xlabel="gradient evaluations", ylabel="max_i |delta_i(t) - delta_i(0)|", title=f"drift of delta at t = {T:g} m"
)
axes[1].legend(fontsize=8)
fig.tight_layout()
