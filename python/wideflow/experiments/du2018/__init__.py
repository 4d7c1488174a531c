"""Du, Hu & Lee (NeurIPS 2018): "Algorithmic regularization in learning deep homogeneous models: layers
are automatically balanced", as a study.

    wideflow reproduce du2018 [--quick] [--out DIR] [--executor local|process|dask] [--set KEY=VALUE]
    wideflow report DIR                                   # the same figures and report from the store alone

Sections (bundled specs in ``specs/``, run by the deep and factorization runners into DIR/wideflow.sqlite):

1. ``identity``: the exact one-step identity Delta(||W_h||^2 - ||W_{h+1}||^2) = lr^2 (||G_h||^2 -
   ||G_{h+1}||^2) on the paper's 3-layer ReLU net;
2. ``relu3``: paper section 4, the 3-layer ReLU net (x in R^1000, W1 100x1000, W2 100x100, W3 10x100, 1000
   points) from balanced and unbalanced inits, lr in {0.02, 0.1} (mean-loss units), with the differences
   and ratios of squared layer norms and the loss;
3. ``eta_scaling``: drift of the invariant at a fixed flow time against lr (gradient-flow limit: linear);
4. ``mf``, ``theorem``: asymmetric matrix factorization M* ~ U V^T (rank 3, 40 x 30) with the decaying
   schedule eta_t = c / (sigma_1 (1 + t/t0)^(1/2 + delta)), converging to a balanced solution (||U||^2 =
   ||V||^2 = ||M*||_*), next to constant steps and the theorem's (too small) constant;
5. ``counterexample``, ``counterexample_matrix``: from an unbalanced start with the same product, GD with a
   constant step diverges;
6. ``rank1``: rank-1 factorization with a constant step: the globally linear rate, contraction ~ 1 - lr sigma_1.

Writes figures (PNG + PDF), results.json and report.md. Modules: `study` (the numbers, from the store),
`figures`, `report`. Docs pages: theory/du2018, reproductions.
"""

from __future__ import annotations

import json
import math
import os
import time

import numpy as np

from .. import _report
from .._study import Study, StudyData, provenance_lines, run_study
from . import figures, study
from .report import write_report

__all__ = ["STUDY", "SECTIONS", "reproduce", "analyze"]

SECTIONS = ("identity", "relu3", "eta_scaling", "mf", "theorem", "counterexample", "counterexample_matrix", "rank1")


def _jsonable(obj):
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items() if k != "curves"}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.floating, np.integer, np.bool_)):
        return obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return str(obj)
    return obj


def analyze(data: StudyData, out_dir: str, *, started: float | None = None) -> str:
    """Figures (PNG + PDF), results.json and report.md from the store alone; returns the report path."""

    started = time.perf_counter() if started is None else started
    mode = data.mode()
    path = os.path.join(out_dir, "report.md")
    incomplete = data.incomplete()
    if incomplete:  # every section needs its runs: say how far the study is and what to run
        rows = [[s, len(data.runs(s)), sum(rec is not None for _, _, rec in data.runs(s))] for s in SECTIONS]
        _report.write_text(
            path,
            "\n".join(
                [
                    "# Du, Hu & Lee (2018): layers are automatically balanced — reproduction",
                    "",
                    f"{incomplete}; specs: {mode}. The figures and tables are written once every section is stored.",
                    "",
                    _report.markdown_table(["section", "runs", "stored"], rows),
                    "",
                ]
            ),
        )
        return path
    res = study.results(data)
    files = {
        "relu3": figures.plot_relu3(res["relu3"], os.path.join(out_dir, "relu3")),
        "eta": figures.plot_eta_scaling(res["eta_scaling"], os.path.join(out_dir, "eta_scaling")),
        "mf": figures.plot_mf(res["mf"], res["counterexample"], os.path.join(out_dir, "mf")),
        "cex": figures.plot_counterexample(res["counterexample"], os.path.join(out_dir, "counterexample")),
        "rank1": figures.plot_rank1(res["rank1"], os.path.join(out_dir, "rank1")),
    }
    files = {k: [os.path.basename(f) for f in v] for k, v in files.items()}
    _report.write_text(os.path.join(out_dir, "results.json"), json.dumps(_jsonable({"mode": mode, **res})))
    provenance = provenance_lines(
        data, SECTIONS, f"Report written in {time.perf_counter() - started:.1f} s from the store."
    )
    write_report(path, res, mode, files, provenance)
    return path


STUDY = Study("du2018", "Du, Hu & Lee 2018: layers are automatically balanced", SECTIONS, analyze)


def reproduce(out_dir: str = "wideflow-out/du2018", quick: bool = False, **options) -> str:
    """Run the study's specs into out_dir/wideflow.sqlite (skipping stored runs), then write the figures,
    results.json and report.md; returns the report path. options as `wideflow.experiments.williams2019.reproduce`."""
    return run_study(STUDY, out_dir, quick=quick, **options)
