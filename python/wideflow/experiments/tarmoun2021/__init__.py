"""Tarmoun, França, Haeffele & Vidal (ICML 2021): gradient flow of overparameterized two-layer linear models,
as a study.

    wideflow reproduce tarmoun2021 [--quick] [--out DIR] [--executor local|process|dask] [--set KEY=VALUE]
    wideflow report DIR                                   # the same figures and report from the store alone

Sections (bundled specs in ``specs/``, run into DIR/wideflow.sqlite by the factorization and one_layer
runners; docs pages theory/tarmoun2021, reproductions):

1. ``section6``, ``one_layer``, ``lr_pairs``: the paper's Section 6 linear experiment, Y ~ N(0, 1) of size
   5 x 10, k = 50, GD with lr = 1e-3 against t = lr * step; relative error and singular values of X(t)
   over init scales sigma_init, the one-layer model beside the two-layer one, the drift of the imbalance
   Q = U^T U - V^T V, GD at lr and lr / 10; ``flow``: the gradient flow itself from the same inits.
2. ``k_sweep``, ``late_rates``: the hidden width k and the late-rate table (docs § Riccati).
3. ``modes``: convergence time against imbalance for one spectral mode, closed form beside GD.
4. ``overlays``: closed forms (spectral init; balanced and lambda-balanced Riccati solutions) against GD.
5. ``nonlinear``: the nonlinear experiment Y = relu(X W) + noise, one-layer relu(X A) against two-layer
   relu(X U V^T) (the `relu_output` runner: small NumPy models, stored like the rest).

Modules: `config`, `runs` (reads the store), `linear` (1 and the flow check), `width` (2), `closed_form`
(3-4), `nonlinear` (5).
"""

from __future__ import annotations

import os
import time

from .. import _report
from .._study import Study, StudyData, provenance_lines, run_study
from . import closed_form, linear, nonlinear, width
from .config import SECTIONS

__all__ = ["STUDY", "reproduce", "analyze"]


def analyze(data: StudyData, out_dir: str, *, started: float | None = None) -> str:
    """Figures (PNG + PDF) and report.md from the store alone."""
    started = time.perf_counter() if started is None else started
    mode = data.mode()
    incomplete = data.incomplete()
    lines = [
        "# Tarmoun et al. (2021): dynamics of overparameterized two-layer linear models",
        "",
        f"`wideflow reproduce tarmoun2021{' --quick' if mode == 'quick' else ''}` — specs: **{mode}**"
        + (f"; {incomplete}" if incomplete else "")
        + ". Theory: docs page theory/tarmoun2021; closed forms: `wideflow.linear_theory`. Time is "
        "gradient-flow time t = lr · step; loss ½‖Y − UVᵀ‖²_F (with the ½: time constants as in the docs "
        "page). Every section is read from the store (`wideflow.sqlite` beside this report).",
        "",
    ]
    summary: dict = {}
    tick = {}
    for name, fn in (
        ("section 6", linear.section6),
        ("k sweep", width.k_sweep),
        ("modes", closed_form.modes),
        ("overlays", closed_form.overlays),
        ("gradient flow", linear.flow_check),
        ("nonlinear", nonlinear.nonlinear),
    ):
        t = time.perf_counter()
        fn(data, out_dir, lines, summary)
        tick[name] = time.perf_counter() - t
    timing = ", ".join(f"{k} {v:.1f} s" for k, v in tick.items())
    lines += provenance_lines(data, SECTIONS, f"Report written in {time.perf_counter() - started:.1f} s ({timing}).")
    path = os.path.join(out_dir, "report.md")
    _report.write_text(path, "\n".join(lines) + "\n")
    return path


STUDY = Study("tarmoun2021", "Tarmoun et al. 2021: two-layer linear factorization dynamics", SECTIONS, analyze)


def reproduce(out_dir: str = "wideflow-out/tarmoun2021", quick: bool = False, **options) -> str:
    """Run the study's specs into out_dir/wideflow.sqlite (skipping stored runs), then write the figures and
    report.md; returns the report path. options as `wideflow.experiments.williams2019.reproduce`."""
    return run_study(STUDY, out_dir, quick=quick, **options)
