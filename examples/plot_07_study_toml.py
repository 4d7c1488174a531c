"""
A small study: run it from TOML, resume it, plot it from the store
==================================================================

A study is a grid of run configurations. Here it is a TOML spec, the same format that
``wideflow sweep SPEC.toml --out DIR`` reads (see :doc:`/guide/studies`). Every run is stored in
``DIR/wideflow.sqlite`` under an id that hashes its full configuration, so running a spec again runs only
what the store does not hold yet: this is how an interrupted sweep resumes, and how a grid grows.

The study: the outer weights only (``train = "outer"``) of a uniform-knots net, whose exact
infinite-width limit after the same gradient-descent steps is known; the runner stores the distance to
it as the metric ``dist_kernel_sup``.
"""

import os
import tempfile

import matplotlib.pyplot as plt
import numpy as np

import wideflow as wf
from wideflow.sweeps import Sweep

spec = """
model = "shallow_relu"

[fixed]
dataset = "square10"
scheme = "uniform_knots"
antisymmetric = true
train = "outer"
lr = 0.1            # with lr_scaling = "m" (the default) the step is lr * width
steps = 2000

[grid]
width = [100, 1000]
seed = [0, 1]
"""
out = os.path.join(tempfile.mkdtemp(prefix="wideflow-study-"), "store")

first = Sweep.loads(spec, name="outer_scaling")
print(first)
print(first.run(out, progress="off"))

# %%
# The grid grows: two more widths and a third seed. Only the 8 new runs are run; the 4 stored ones are
# skipped. A second call with the same spec would skip everything.
grown = Sweep.loads(
    spec.replace("[100, 1000]", "[100, 1000, 10000, 30000]").replace("[0, 1]", "[0, 1, 2]"), name="outer_scaling"
)
print(grown.run(out, progress="off"))
print(grown.run(out, progress="off"))

# %%
# Read the runs back: a pandas DataFrame with one row per run (config fields and metrics as columns),
# and each run's recorded trajectory.
store = wf.open_store(out)
runs = store.runs()
print(
    runs[["id", "width", "seed", "final_loss", "dist_kernel_sup", "train_time"]]
    .sort_values(["width", "seed"])
    .to_string(index=False)
)

fig, axes = plt.subplots(1, 2, figsize=(9.6, 3.8))
for width, group in runs.groupby("width"):
    traj = store.trajectory(group.id.iloc[0])
    axes[0].loglog(np.maximum(traj["steps"], 1), traj["loss"], label=f"m = {width}")
mean = runs.groupby("width").dist_kernel_sup.mean()
axes[1].loglog(mean.index, mean.values, "o-", label="mean over seeds")
axes[1].loglog(mean.index, mean.values[0] * (mean.index / mean.index[0]) ** -0.5, "k--", lw=0.8, label="slope -1/2")
axes[0].set(xlabel="step", ylabel="loss", title="loss (seed 0)")
axes[1].set(xlabel="width m", ylabel="sup distance", title="distance to the m = infinity dynamics")
axes[0].legend(fontsize=8)
axes[1].legend(fontsize=8)
fig.tight_layout()
store.close()

# %%
# The same report as ``wideflow report DIR`` (summary table, CSV and standard plots) is one call:
# ``wideflow.sweeps.report.report(out)``.


import shutil  # noqa: E402

shutil.rmtree(os.path.dirname(out), ignore_errors=True)
