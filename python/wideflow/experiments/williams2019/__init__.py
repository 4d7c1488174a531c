"""Williams et al. (NeurIPS 2019), "Gradient dynamics of shallow univariate ReLU networks", as a study.

    wideflow reproduce williams2019 [--quick] [--out DIR] [--executor local|process|dask] [--set KEY=VALUE]
    wideflow report DIR                                   # the same figures and report from the store alone
    wideflow.experiments.williams2019.reproduce(out_dir, quick=False, **options)  -> path of report.md

The sections are bundled sweep specs (``specs/*.toml``; ``specs/quick.toml`` holds what --quick changes),
run into DIR/wideflow.sqlite; the analysis (this package: `runs` reads the store, `figures`, `report`,
`scaling`, `flow_report` write) reads only the store. Sections (docs pages theory/williams2019 and
reproductions):

1. Analytic limits on the data: natural cubic spline (NCS), linear interpolant, rho-weighted splines and
   the exact m = infinity kernel interpolants, with their mutual distances (the scale of every comparison).
2. ``regimes``: the layer-scale ratio (sigma_theta, sigma_c) from kernel (first layer dominant) to adaptive
   (second layer dominant) on 10 square-wave points and a sinusoid; each net trained 10^4 epochs (the
   paper's budget) and then on to convergence, each state compared with every limit.
3. ``trained_sets``: c only (random features; exact limit at any width), (a, b) only, all, on three inits.
4. ``step_size``: GD step size and the conservation law delta_i = c_i^2 - |theta_i|^2.
5. ``width_limits``, ``width_gd``: the exact c-only limit (the outer_limit runner) against the m = infinity
   kernel interpolant, the NCS and the rho-weighted spline for m = 10^2..10^8, with slopes and floors;
   full GD in the kernel regime for m = 10^2..10^6.
6. ``flow_gd`` / ``flow`` / ``flow_long``: GD beside the exact gradient flow of the same init at the same
   flow time (the flow runs are derived from the stored GD runs), and long flow runs on the sinusoid.

Assumptions (left open by the paper): f(x) = (1/alpha) sum_i c_i [a_i x + b_i]_+ with alpha = m (NTK runs:
alpha = sqrt m), no output bias; loss 1/2 sum of squared residuals; antisymmetric doubling (f_0 = 0); init
families and scales in the specs; learning rate eta = min(eta_lambda / lambda_max(J J^T at init),
lr_cap * alpha) (`wideflow.tangent.learning_rate`); data as in `wideflow.datasets`.
"""

from __future__ import annotations

import os
import time

from ... import datasets, limits
from ...segmented import train_long  # noqa: F401  (importable from here too)
from ...tangent import learning_rate, tangent_gram  # noqa: F401  (importable from here too)
from .. import _report
from .._study import Study, StudyData, provenance_lines, run_study
from . import figures, flow_report, report, runs, scaling
from .config import DATASETS, DERIVED, REGIMES, SECTIONS, Regime
from .measures import knot_clusters, measure, references

# learning_rate, tangent_gram (wideflow.tangent) and train_long (wideflow.segmented) stay importable from here
__all__ = ["STUDY", "reproduce", "analyze", "Regime", "REGIMES", "references", "measure", "knot_clusters"]

FIGURES = {
    "regimes_square10": "regime panel on square10: kernel (left) to adaptive (right), NCS and linear overlaid",
    "regimes_sine10": "regime panel on the sinusoid",
    "uv_square10": "uv diagrams, kernel vs adaptive, with trajectories from snapshots",
    "knots_square10": "knot positions over log steps, kernel vs adaptive, data points marked",
    "loss_curves": "loss curves of every regime run",
    "trained_sets": "fits with c only / (a, b) only / all trained",
    "width_scaling": "distance to the kernel limits against m (log–log) with fitted slopes",
    "flow": "GD and the exact gradient flow side by side; long flow runs on the sinusoid",
}


def analyze(data: StudyData, out_dir: str, *, started: float | None = None) -> str:
    """Figures (PNG + PDF) and report.md from the store alone; returns the report path."""
    started = time.perf_counter() if started is None else started
    mode = data.mode()
    refs_by_ds = {ds: references(*datasets.load(ds)) for ds in DATASETS}
    results = runs.regime_results(data)
    ts_rows = runs.trained_sets(data)
    lr_rows = runs.step_sizes(data)
    summary = scaling.summarize(runs.width_limit_rows(data), refs_by_ds["square10"])
    gd_rows = runs.width_gd_rows(data)
    pairs = runs.flow_pairs(data)
    long_runs = runs.flow_long(data)
    checkpoint = results[0]["config"]["checkpoint"] if results else 10_000
    files = []
    for ds in DATASETS:
        files += figures.regimes(out_dir, ds, results, refs_by_ds[ds], checkpoint)
    files += figures.uv(out_dir, results)
    files += figures.knots(out_dir, results, checkpoint)
    files += figures.losses(out_dir, results, DATASETS, checkpoint)
    files += figures.trained_sets(out_dir, ts_rows, refs_by_ds["square10"])
    files += scaling.figure(out_dir, summary, gd_rows)
    files += figures.flow(out_dir, pairs, long_runs)
    text = _text(data, mode, refs_by_ds, results, ts_rows, lr_rows, summary, gd_rows, pairs, long_runs, files, started)
    path = os.path.join(out_dir, "report.md")
    _report.write_text(path, text)
    return path


def _text(data, mode, refs_by_ds, results, ts_rows, lr_rows, summary, gd_rows, pairs, long_runs, files, started):
    x, _ = datasets.load("square10")
    ukmf = limits.uniform_knot_mass_fraction(x)
    reg_cfg = results[0]["config"] if results else {}
    lr_cap = reg_cfg.get("lr_cap", 2e-3)
    incomplete = data.incomplete()
    lines = [
        "# Williams et al. 2019 — kernel vs adaptive regimes of shallow univariate ReLU nets",
        "",
        f"`wideflow reproduce williams2019{' --quick' if mode == 'quick' else ''}` — specs: **{mode}**"
        + (f"; {incomplete}" if incomplete else "")
        + ". Every number below is read from the store "
        "(`wideflow.sqlite` beside this report); `wideflow report DIR` rebuilds this file from it.",
        "",
        "Model f(x) = (1/α) Σ_i c_i [a_i x + b_i]_+ with α = m (NTK runs: α = √m), loss ½ Σ_j (f(x_j) − y_j)², "
        "full-batch gradient descent (one step = one epoch), float64. Distances are sup norms on the data hull "
        "[−1, 1] (2001 points). *knot mass* = fraction of Σ‖w_i‖ (w_i = |c_i|(a_i, b_i), knots in the hull ± 0.1) "
        f"within 0.02 of a data point; a uniform knot spread gives {ukmf:.2f} (in brackets). *median knot move* = "
        "median_i |e_i(t) − e_i(0)|. *δ drift* = max_i |δ_i(t) − δ_i(0)|, δ_i = c_i² − a_i² − b_i² (exactly "
        "conserved by gradient flow). *dead* = neurons inactive on every data point (at init in brackets).",
        "",
        "## Assumptions (left open by the paper) and parameters",
        "",
        "- Eq. (1) with +b_i inside the ReLU (knot e_i = −b_i/a_i), no output bias, no linear term; α = m as in "
        "the paper's experiments.",
        "- Loss ½ Σ (no 1/n); with full batches it only rescales the learning rate.",
        "- Data: `square10` x_j = linspace(−1, 1, 10), y_j = sign(sin(πx_j + 0.3)); `sine10` y_j = sin(πx_j). "
        'The paper says only "10 points sampled from a square wave" and "a sinusoid".',
        "- Init: `gaussian` (a, b) = σ_θ·N(0, I), c = σ_c·N(0, 1); `uniform_knots` |a| = σ_θ, knots "
        f"U[−{reg_cfg.get('L', 2.0):g}, {reg_cfg.get('L', 2.0):g}], c = σ_c·N(0, 1); antisymmetric doubling "
        f"(f_0 ≡ 0); seed {reg_cfg.get('seed', 0)}. The paper's distributions and scale values are unknown.",
        f"- Learning rate: η = min({reg_cfg.get('eta_lambda', 1.0):g}/λ_max(JJᵀ at init), {lr_cap:g}·α) (η/α = "
        "the mean-field step; `wideflow.tangent.learning_rate`). The first term keeps the linearized dynamics "
        "stable (η λ_max < 2); the cap keeps per-neuron steps small when the second layer dominates (docs "
        "guide/training). The paper's learning rate is unknown.",
        f"- Budgets: the paper's {reg_cfg.get('checkpoint', 10_000):,} epochs, then on to at most "
        f"{reg_cfg.get('steps', 0):,} steps (stopping once the loss is ≤ {reg_cfg.get('loss_tol', 0):g}, checked "
        "at 1, 3, 9, 27 × 10⁴ ... steps).",
        "- Knot-mass tolerance 0.02 and hull padding 0.1 (docs theory/williams2019 § adaptive regime).",
        "",
        "## 1. Analytic limits on the data (the scale of every comparison)",
        "",
        "Natural cubic spline (NCS; kernel limit for constant ρ), linear interpolant (adaptive limit), "
        "ρ-weighted splines min ∫f''²/ρ (affine part free; Gaussian init: ρ ∝ (1 + e²)⁻²; uniform knots on "
        "[−2, 2]: ρ constant), and the exact m = ∞ random-feature kernel interpolants K∞ (affine part penalized; "
        "the canonical kernel limit). Sup distances on [−1, 1]:",
        "",
        report.limits_section(refs_by_ds),
        "",
        "## 2. Regime sweep (paper Figure 4 idea)",
        "",
        "Each net is compared after the paper's 10⁴ epochs and at the end of training. *c-only limit* = the "
        "exact limit of training c alone from the same init (min-norm random-feature interpolant, "
        "`limits.min_norm_outer_interpolant`): the finite-width kernel-regime prediction. *K∞* = the m = ∞ "
        "kernel interpolant of the init family; *ρ-spline* = the ρ-weighted spline of the init family. "
        "*closest* = the nearest of {c-only limit, NCS, linear}.",
        "",
    ]
    for ds in DATASETS:
        lines += [
            f"### {ds}",
            "",
            report.regime_table(results, ds, ukmf),
            "",
            f"Figure: `regimes_{ds}.png` (thin grey: after 10⁴ epochs; black: end; dash-dot: c-only "
            "limit of that init; dashed green: NCS; dotted purple: linear).",
            "",
        ]
    lines += [
        "How to read these tables: after the paper's 10⁴ epochs the kernel-side runs are usually not converged "
        "(the 10-point kernel Gram matrices have condition numbers ~10⁵ (section 1), so GD at a stable step "
        "needs 10⁵–10⁶ steps); the *end* rows are the ones to compare with the limits, always next to the loss "
        "at stop. At finite width the kernel-regime prediction is the c-only limit of the same init; its own "
        "distance to the m = ∞ limits (NCS / ρ-spline / K∞) is the finite-width error measured in section 5. "
        "Freezing the knots needs |δ_i| ≫ c_i² throughout training, so weakly separated inits "
        "((10, 0.01), partly (30, 3e−3)) can end near the *linear* interpolant although the median knot barely "
        "moves (the few neurons with knots near the data take the mass) — the report says so where it happens.",
        "",
    ]
    for ds in DATASETS:
        lines += [f"Observed on {ds}:", ""] + report.regime_observations(results, ds) + [""]
    lines += [
        "Figures: `uv_square10.png` (uv diagram w_i = |c_i|(a_i, b_i), red c > 0, blue c < 0, grey data lines "
        "u x_j + v = 0, thin lines = paths from the log-spaced snapshots: radial motion in the kernel regime, "
        "migration onto the data lines in the adaptive regime), `knots_square10.png` (knots e_i over log steps, "
        "data points as horizontal lines), `loss_curves.png`.",
        "",
        "## 3. Which parameters are trained (square10)",
        "",
        "c only: the model is linear in c, so GD converges to the c-only limit at *any* width and any scale "
        "(even from the adaptive init: training c alone is always the kernel regime). (a, b) only / all on the "
        "NTK init (α = √m, unit scales; equivalent to α = m with σ = m^{1/4}): the lazy prediction is the "
        "step-feature kernel K_θ / the NTK K_c + K_θ, which is close to the linear interpolant on these data "
        "(section 1) — the curvature-only limit needs a strongly dominant first layer. (a, b) only "
        "from the kernel init (c ≈ 10⁻³) is not run: the (a, b)-gradients are ∝ c and it does not move. "
        "*δ drift* is only meaningful when both layers train. The *all* runs of the kernel and adaptive inits "
        "are the regime runs of the same init (one run each in the store).",
        "",
        report.trained_sets_table(ts_rows, ukmf),
        "",
        *report.trained_sets_observations(ts_rows),
        "",
        "Figure: `trained_sets.png`.",
        "",
        "## 4. Gradient-descent step size and the conserved δ (docs theory/williams2019 § conserved imbalance)",
        "",
        "Adaptive init (0.1, 1) on square10 at several mean-field steps η/α. Under gradient flow "
        "δ_i = c_i² − ‖θ_i‖² is exactly conserved; a GD step changes it by η²((∂_{c_i}L)² − ‖∂_{θ_i}L‖²), "
        "which accumulates over a long run. The collective bound at init, η λ_max(JJᵀ) = 1, would allow "
        f"η/α = {_report.fmt(lr_rows[0]['lr_bar_lambda'] if lr_rows else None, '.2g')} here, but collective "
        "stability does not keep each neuron's step small when the second layer dominates (docs guide/training): "
        "the few neurons that end up carrying the fit grow large and their steps overshoot.",
        "",
        report.lr_table(lr_rows, ukmf),
        "",
        *report.lr_observations(lr_rows, lr_cap),
        "",
        *scaling.report_section(summary, gd_rows, number=5),
        *flow_report.section(pairs, long_runs, number=6),
        "## 7. Checks (the acceptance statements on the stored runs)",
        "",
        *report.checks(results, DATASETS),
        *scaling.checks(summary, gd_rows),
        "",
        "## 8. Figures",
        "",
    ]
    for f in files:
        stem = os.path.splitext(os.path.basename(f))[0]
        if f.endswith(".png"):
            lines.append(f"- `{os.path.basename(f)}` (+ `.pdf`): {FIGURES.get(stem, stem)}")
    lines += [
        "",
        *provenance_lines(
            data,
            SECTIONS + DERIVED,
            f"Report written in {time.perf_counter() - started:.1f} s from the store (figures included).",
        ),
    ]
    return "\n".join(lines) + "\n"


STUDY = Study(
    "williams2019",
    "Williams et al. 2019: shallow univariate ReLU nets, kernel vs adaptive regimes",
    SECTIONS,
    analyze,
    derive=runs.derive_flow,
    derived_sections=DERIVED,
)


def reproduce(out_dir: str = "wideflow-out/williams2019", quick: bool = False, **options) -> str:
    """Run the study's specs into out_dir/wideflow.sqlite (skipping stored runs), then write the figures and
    report.md from the store; returns the report path. options: overrides (``KEY=VALUE`` strings), executor
    ("local" | "process" | "dask"), scheduler, workers, threads, progress, allow_mixed (see `run_study`)."""
    return run_study(STUDY, out_dir, quick=quick, **options)
