"""The Tarmoun et al. (2021) reproduction as a study at a tiny size: every section through the store, the
report from the store (`wideflow report` rebuilds it), and its closed-form checks."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from wideflow.cli import main
from wideflow.experiments import tarmoun2021 as exp

TINY = [
    "section6:grid.init_scale=[1e-2, 0.3]",
    "section6:grid.seed=[1000, 1001]",
    "section6:steps=3000",
    "one_layer:grid.init_scale=[1e-2, 0.3]",
    "one_layer:steps=3000",
    "lr_pairs:cases=[{lr = 1e-3, steps = 1000, record_every = 10}, {lr = 1e-4, steps = 10000, record_every = 100}]",
    "lr_pairs:grid.init_scale=[0.1]",
    "flow:grid.init_scale=[0.1]",
    "flow:t_end=1.0",
    "k_sweep:grid.k=[5, 50]",
    "k_sweep:grid.seed=[1000, 1001]",
    "k_sweep:steps=2000",
    "late_rates:cases=[{k = 50, init_scale = 0.3}]",
    "late_rates:steps=3000",
    "modes:grid.mode_lambda=[0.0, 1.0, 10.0]",
    "overlays:cases=[{init = 'balanced_random', init_scale = 0.05, k = 50, seed = 1077, lr = 1e-3, steps = 1000, "
    "record_every = 50}, {init = 'balanced_random', init_scale = 0.05, k = 50, seed = 1077, lr = 1e-4, "
    "steps = 10000, record_every = 500}]",
]


@pytest.mark.slow
def test_reproduce_tiny_study(tmp_path):
    path = exp.reproduce(str(tmp_path), overrides=TINY, progress="off")
    assert (tmp_path / "wideflow.sqlite").is_file()
    text = Path(path).read_text(encoding="utf-8")
    for heading in (
        "## 1. Section 6",
        "## 2. Width sweep",
        "## 3. Convergence time against imbalance",
        "## 4. Closed forms",
        "## 5. Nonlinear",
        "## Gradient flow itself",
        "## Provenance",
    ):
        assert heading in text
    assert "incomplete" not in text
    assert "**no**" not in text.split("## 3.")[1].split("## 4.")[0]  # t_eps decreasing in lambda
    for name in (
        "error_vs_t",
        "singular_values",
        "imbalance_drift",
        "k_sweep",
        "convergence_vs_imbalance",
        "closed_form_overlays",
        "nonlinear",
    ):
        for ext in ("png", "pdf"):
            assert os.path.getsize(tmp_path / f"tarmoun2021_{name}.{ext}") > 1000
    # the report is rebuilt from the store alone: the same numbers
    again = tmp_path / "again"
    assert main(["report", str(tmp_path), "--out", str(again)]) == 0
    body = text.split("## Provenance")[0]
    assert (again / "report.md").read_text(encoding="utf-8").split("## Provenance")[0] == body


def test_closed_form_checks_hold_on_the_stored_runs(tmp_path):
    """Section 3: GD hitting times approach the closed form at O(lr) (ratio ~10 between lr and lr/10);
    section 4: the balanced init's GD stays within O(lr) of the Riccati solution."""
    from wideflow.experiments._study import StudyData, run_study
    from wideflow.experiments.tarmoun2021 import closed_form

    tiny = [s for s in TINY if s.startswith(("modes:", "overlays:"))]
    run_study(
        exp.STUDY,
        str(tmp_path),
        overrides=tiny
        + [f"{s}:steps=1" for s in ("section6", "one_layer", "k_sweep", "late_rates")]
        + [
            "lr_pairs:cases=[{lr = 1e-3, steps = 1}]",
            "flow:t_end=0.01",
            "section6:grid.seed=[1000]",
            "section6:grid.init_scale=[0.1]",
            "one_layer:grid.init_scale=[0.1]",
            "k_sweep:grid.k=[5]",
            "k_sweep:grid.seed=[1000]",
            "late_rates:cases=[{k = 5, init_scale = 0.1}]",
            "lr_pairs:grid.init_scale=[0.1]",
            "flow:grid.init_scale=[0.1]",
        ],
        progress="off",
    )
    summary, lines = {}, []
    with StudyData(str(tmp_path), exp.STUDY) as data:
        closed_form.modes(data, str(tmp_path), lines, summary)
        closed_form.overlays(data, str(tmp_path), lines, summary)
    assert summary["imbalance_monotone"]
    err1, err2 = summary["imbalance_gd_err"]
    assert err1 < 5e-3 and 5 < err1 / err2 < 20
    assert summary["overlay_ratios"] == [pytest.approx(10.0, rel=0.2)]


def test_reproduce_rejects_bad_overrides(tmp_path):
    from wideflow.sweeps import SpecError

    with pytest.raises(SpecError, match="mode needs m = n = k = 1"):
        exp.reproduce(str(tmp_path), overrides=["modes:k=2"])
