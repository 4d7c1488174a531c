"""
The uv diagram and the knots moving during training
===================================================

In the adaptive regime the knots ``e_i = -b_i / a_i`` of a shallow ReLU net migrate to the data points.
This example records parameter snapshots during training (``snapshots=``) and draws

* the **uv diagram**: one point per neuron at ``w_i = |c_i| (a_i, b_i)``, coloured by the sign of ``c_i``,
  with the data lines ``u x_j + v = 0`` (a neuron on a data line has its knot at that data point);
* the **knots against training time**, with the data points as horizontal lines;
* an **animation** of the fit and its knots (a GIF written with matplotlib's Pillow writer).
"""

import os
import tempfile

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.animation import FuncAnimation, PillowWriter

import wideflow as wf
from wideflow import datasets, plotting

x, y = datasets.load("square10")
m = 2000
net = wf.ShallowReLU.init(m, scheme="gaussian", inner_scale=0.1, outer_scale=1.0, seed=0)
u0, v0, eps0 = net.uv()
run = wf.train(net, x, y, lr=1e-2 * m, steps=40_000, snapshots=40, progress=False)
print(run)

# %%
# The uv diagram at initialization and at the end. The neurons have moved from a small cloud around
# the origin onto the data lines.
fig, axes = plt.subplots(1, 2, figsize=(9, 4))
plotting.plot_uv(axes[0], u0, v0, eps0, x)
axes[0].set_title("initialization")
plotting.plot_uv(axes[1], *net.uv(), x)
axes[1].set_title(f"after {run.final_step} steps")
fig.tight_layout()

# %%
# Knots against training time, from the snapshots. Each line is one neuron; the line weight is its
# share of the function (``|c_i a_i|``).
steps = np.array([s for s, _ in run.snapshots])
knots = np.array([-p["b"] / p["a"] for _, p in run.snapshots])
weights = np.abs(run.snapshots[-1][1]["c"] * run.snapshots[-1][1]["a"])
weights = weights / weights.max()  # line opacity
fig, ax = plt.subplots(figsize=(6.4, 4))
plotting.plot_knots(ax, np.maximum(steps, 1), knots, x, weights=weights, ylim=(-1.5, 1.5))
ax.set_title("knots e_i = -b_i / a_i during training")
fig.tight_layout()

# %%
# The animation: the fit, and a tick at each knot (taller for neurons that carry more weight).
t = np.linspace(-1.3, 1.3, 400)
fig, ax = plt.subplots(figsize=(5.6, 3.6))
ax.plot(x, y, "ko", ms=4, zorder=3)
(curve,) = ax.plot([], [], color="tab:blue")
ticks = ax.scatter([], [], marker="|", s=[], color="tab:red")
title = ax.set_title("")
ax.set(xlim=(-1.3, 1.3), ylim=(-2, 2), xlabel="x", ylabel="f(x)")
fig.tight_layout()
frame_net = net.copy()


def draw(k):
    step, p = run.snapshots[k]
    frame_net.a[:], frame_net.b[:], frame_net.c[:] = p["a"], p["b"], p["c"]
    curve.set_data(t, frame_net(t))
    e = -p["b"] / p["a"]
    w = np.abs(p["c"] * p["a"])
    keep = np.abs(e) < 1.3
    ticks.set_offsets(np.c_[e[keep], np.full(keep.sum(), -1.85)])
    ticks.set_sizes(400 * w[keep] / w.max())
    title.set_text(f"step {step}, loss {run.loss[np.searchsorted(run.steps, step)]:.2e}")
    return curve, ticks, title


anim = FuncAnimation(fig, draw, frames=len(run.snapshots), blit=False)
gif_dir = os.environ.get("WIDEFLOW_GALLERY_GIFS", tempfile.gettempdir())
gif = os.path.join(gif_dir, "knots_moving.gif")
anim.save(gif, writer=PillowWriter(fps=6), dpi=80)
plt.close(fig)
print(f"wrote {os.path.basename(gif)}: {len(run.snapshots)} frames")
