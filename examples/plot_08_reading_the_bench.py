"""
Reading the bench
=================

The benchmark harnesses (``python bench/run.py``, or ``wideflow bench``) write one JSON line per
measurement into ``bench/results/*.jsonl``; the repository holds the lines behind the tables of
``bench/README.md``. Every line carries the machine it was measured on, and every harness times wideflow
and its peers (the NumPy reference kernel, PyTorch) **in the same process**, so the ratios are what to
compare across machines, not the absolute times (see :doc:`/guide/performance`).

This example reads the committed shallow-net results and plots

* the throughput in neuron-steps per second against the width (one GD step of a width-``m`` net on ``n``
  samples is ``m`` neuron-steps), for both kernels, both dtypes and 1 or 2 threads;
* the achieved memory bandwidth as a fraction of the same run's memory-copy probe: the fused step reads
  and writes the parameter arrays once, so at large widths this is the number that says how close to the
  hardware limit a step runs.
"""

import collections
import json
import os

import matplotlib.pyplot as plt

try:  # sphinx-gallery runs the example from the examples/ folder of the repository
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
except NameError:  # a notebook: run it from the repository root or from examples/
    root = os.getcwd() if os.path.isdir("bench") else os.path.dirname(os.getcwd())
path = os.path.join(root, "bench", "results", "shallow.jsonl")
rows = [json.loads(line) for line in open(path, encoding="utf-8") if line.strip()]
rows = [r for r in rows if r.get("kind", "shallow_gd_step") == "shallow_gd_step" and "impl" in r]
machine = rows[0]["machine"]
print(
    f"{len(rows)} measurements; machine: {machine.get('cpu')}, {machine.get('cores')} cores, "
    f"numpy {machine.get('numpy')}, torch {machine.get('torch')}"
)

# %%
# The median time per step for each (implementation, width, samples, dtype, threads).
series = collections.defaultdict(list)
for r in rows:
    if r["impl"].startswith("wideflow") and r["n"] == 10 and r.get("extrapolated_from_m") is None:
        series[(r["impl"].replace("wideflow-", ""), r["dtype"], r["threads"])].append(r)

fig, axes = plt.subplots(1, 2, figsize=(9.6, 3.8))
for (kernel, dtype, threads), rs in sorted(series.items()):
    rs = sorted(rs, key=lambda r: r["m"])
    label = f"{kernel}, {dtype}, {threads} thr"
    style = "-" if dtype == "float64" else "--"
    axes[0].loglog([r["m"] for r in rs], [r["neuron_steps_per_s"] for r in rs], style, marker="o", label=label)
    axes[1].semilogx([r["m"] for r in rs], [100 * r["fraction_of_copy"] for r in rs], style, marker="o")
axes[0].set(xlabel="width m", ylabel="neuron-steps / s", title="shallow GD step, n = 10 samples")
axes[1].set(xlabel="width m", ylabel="% of the copy probe", title="parameter traffic vs memory copy")
axes[0].legend(fontsize=7)
fig.tight_layout()

# %%
# The speed-up over the best peer measured in the same run, for each case. A peer marked as extrapolated
# was timed at a smaller width and scaled linearly in m (its n x m temporaries would not fit).
print(f"{'kernel':>8s} {'m':>9s} {'n':>5s} {'dtype':>8s} {'thr':>3s} {'ms/step':>9s} {'x best peer':>11s}")
for r in sorted(rows, key=lambda r: (r["n"], r["m"], r["dtype"], r["threads"])):
    if r["impl"].startswith("wideflow") and r.get("speedup_vs_best_peer"):
        print(
            f"{r['impl'][9:]:>8s} {r['m']:>9d} {r['n']:>5d} {r['dtype']:>8s} {r['threads']:>3d} "
            f"{1e3 * r['sec_per_step']:>9.3f} {r['speedup_vs_best_peer']:>11.0f}"
        )
