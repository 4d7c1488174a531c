"""
Layers are automatically balanced: a 3-layer ReLU net
=====================================================

For a homogeneous net ``f(x) = W_3 relu(W_2 relu(W_1 x))`` gradient flow conserves the differences of
squared layer norms, ``||W_1||_F^2 - ||W_2||_F^2`` and ``||W_2||_F^2 - ||W_3||_F^2`` (Du, Hu & Lee 2018).
Gradient descent changes them by ``eta^2 (||G_h||^2 - ||G_{h+1}||^2)`` per step, a second-order amount.

So when the norms grow during training while their differences stay where they started, the layers
become balanced in ratio: ``||W_1||^2 / ||W_2||^2 -> 1``. This example trains the paper's architecture
(1000 -> 100 -> 100 -> 10, no biases) on 100 samples of a random ReLU teacher, from a balanced and an
unbalanced small initialization. (The reproduction ``wideflow reproduce du2018`` uses 1000 samples and
10,000 steps.)
"""

import matplotlib.pyplot as plt
import numpy as np

import wideflow as wf

dims = (1000, 100, 100, 10)
n = 100
rng = np.random.default_rng(0)
X = rng.standard_normal((n, dims[0]))
teacher = wf.DeepNet.init(dims, variance=[2 / 1000, 2 / 100, 1 / 100], seed=1)
Y = teacher(X)

inits = {
    "balanced": [1e-6, 1e-5, 1e-4],  # variances: E ||W_h||^2 = 0.1 for every layer
    "unbalanced": [1e-4, 1e-4, 1e-4],
}  # E ||W_h||^2 = 10, 1, 0.1
eta = 0.02  # a step for the mean loss (1/2n) sum ||f - y||^2; wideflow's loss has no 1/n, so lr = eta / n
runs = {}
for name, var in inits.items():
    net = wf.DeepNet.init(dims, variance=var, activation="relu", seed=2)
    # one thread: each GD step ends in a thread barrier, which costs more than it saves on a busy machine
    runs[name] = wf.train(net, X, Y, lr=eta / n, steps=2000, record=10, metrics=True, progress=False, threads=1)
    norms = runs[name].metrics["layer_norms"]  # squared Frobenius norms, one column per layer
    d = norms[:, :-1] - norms[:, 1:]
    print(
        f"{name:10s} squared norms {np.round(norms[0], 3)} -> {np.round(norms[-1], 3)}; "
        f"max change of the differences {np.abs(d - d[0]).max():.2e}; loss {runs[name].final_loss / n:.3g}"
    )

# %%
# Differences (top) stay put; ratios (bottom) move toward 1 as the norms grow.
fig, axes = plt.subplots(2, 2, figsize=(9.6, 6), sharex=True)
for j, (name, run) in enumerate(runs.items()):
    norms = run.metrics["layer_norms"]
    axes[0, j].plot(run.steps, norms[:, 0] - norms[:, 1], label="||W1||^2 - ||W2||^2")
    axes[0, j].plot(run.steps, norms[:, 1] - norms[:, 2], label="||W2||^2 - ||W3||^2")
    axes[0, j].plot(run.steps, norms, color="0.7", lw=0.8)
    axes[0, j].set_title(f"{name} init (grey: the squared norms)")
    axes[1, j].semilogy(run.steps, norms[:, 0] / norms[:, 1], label="||W1||^2 / ||W2||^2")
    axes[1, j].semilogy(run.steps, norms[:, 1] / norms[:, 2], label="||W2||^2 / ||W3||^2")
    axes[1, j].axhline(1.0, color="k", lw=0.5)
    axes[1, j].set_xlabel("step")
axes[0, 0].legend(fontsize=8)
axes[1, 0].legend(fontsize=8)
fig.tight_layout()
