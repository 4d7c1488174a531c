"""
Singular values learned one by one, or all at once
==================================================

A two-layer linear model ``X = U V^T`` fitted to a random 5 x 10 target ``Y`` (Tarmoun et al. 2021, with
hidden width ``k = 50``) by gradient descent with step ``1e-3``, a close stand-in for gradient flow.

* From a **small** initialization the layers are nearly balanced (``Q = U^T U - V^T V ~ 0``); each
  singular value of ``X`` then follows the logistic curve of Saxe et al. and waits on a plateau of length
  about ``ln(sigma_i / x_0) / (2 sigma_i)``: the largest is learned first, the others one after another.
* From a **large** initialization the imbalance ``Q`` is large, it is conserved, and it acts as a larger
  effective step for every mode: all singular values are learned at once.

The dashed lines are the closed form of :func:`wideflow.linear_theory.spectral_solution`: the exact
gradient flow from a spectral initialization with the same small product scale.
"""

import matplotlib.pyplot as plt
import numpy as np

import wideflow as wf
from wideflow import linear_theory as lt

rng = np.random.default_rng(0)
Y = rng.standard_normal((5, 10))
sigma = np.linalg.svd(Y, compute_uv=False)
lr, steps = 1e-3, 12_000

runs = {}
for scale in (1e-3, 0.3):
    fac = wf.Factorization.init(5, 10, 50, scale=scale, seed=1)
    q0 = np.linalg.norm(fac.imbalance(), 2)
    runs[scale] = wf.train(fac, Y, lr=lr, steps=steps, metrics=True, progress=False)  # metrics: opt-in
    print(f"init scale {scale:g}: ||Q||_2 = {q0:.2e}, final relative error {runs[scale].metrics['rel_error'][-1]:.2e}")

# %%
# The closed form for a balanced spectral init, u_i(0) = v_i(0) = sqrt(x0) with x0 the typical size of
# the random init's product modes.
x0 = np.sqrt(50) * 1e-3**2
t = np.linspace(0, steps * lr, 400)
closed = np.linalg.svd(lt.spectral_solution(t, Y, np.sqrt(x0), np.sqrt(x0)), compute_uv=False)

fig, axes = plt.subplots(1, 2, figsize=(9.6, 3.8), sharey=True)
for ax, (scale, run) in zip(axes, runs.items()):
    sv = run.metrics["singular_values"]
    for i in range(sv.shape[1]):
        ax.plot(run.t, sv[:, i], color=f"C{i}")
        ax.axhline(sigma[i], color=f"C{i}", lw=0.5, ls=":")
    if scale < 0.01:
        ax.plot(t, closed, "k--", lw=0.8)
    ax.set(xlabel="flow time t = lr * step", title=f"init scale {scale:g}")
axes[0].set_ylabel("singular values of U V^T")
fig.tight_layout()

# %%
# The plateau lengths of the balanced closed form (Saxe's logistic, :func:`wideflow.linear_theory.saxe_logistic`):
# :func:`wideflow.linear_theory.hitting_time` with imbalance ``lam = 0`` gives the time at which each mode is
# within ``sigma_i / 2`` of its target.
for i, s in enumerate(sigma):
    t_half = lt.hitting_time(s, x0, 0.0, s / 2)
    print(f"mode {i}: sigma = {s:.3f}, half-way at t = {t_half:.2f}")
