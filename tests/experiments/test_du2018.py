"""The Du, Hu & Lee (2018) reproduction as a study at a toy size: every section through the store, the
report and results.json from the store, and the paper's claims on the stored numbers."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from wideflow.experiments import du2018

TOY = [
    "identity:samples=20",
    "relu3:samples=20",
    "relu3:steps=40",
    "relu3:record_points=10",
    "mf:steps=600",
    "theorem:steps=200",
    "rank1:steps=600",
    "eta_scaling:cases=[{lr = 0.2, steps = 40}, {lr = 0.1, steps = 80}, {lr = 0.05, steps = 160}, "
    "{lr = 0.025, steps = 320}, {lr = 0.0125, steps = 640}]",
]


@pytest.mark.slow
def test_reproduce_du2018_toy(tmp_path):
    report = du2018.reproduce(str(tmp_path), overrides=TOY, progress="off")
    assert os.path.basename(report) == "report.md"
    assert (tmp_path / "wideflow.sqlite").is_file()
    text = (tmp_path / "report.md").read_text(encoding="utf-8")
    for part in (
        "one-step identity",
        "3-layer ReLU",
        "fixed flow time",
        "matrix factorization",
        "counterexample",
        "Rank-1",
        "## Provenance",
    ):
        assert part in text
    assert "incomplete" not in text
    for name in ("relu3", "eta_scaling", "mf", "counterexample", "rank1"):
        for ext in ("png", "pdf"):
            assert os.path.getsize(tmp_path / f"{name}.{ext}") > 0
    res = json.loads((tmp_path / "results.json").read_text())
    assert len(res["identity"]["rows"]) == 2
    assert all(r["rel_error"] < 1e-6 for r in res["identity"]["rows"])
    cex = res["counterexample"]
    assert [s["status"] for s in cex["scalar"]] == ["completed", "completed", "diverged"]
    assert [m["status"] for m in cex["matrix"]] == ["completed", "diverged", "diverged"]
    assert cex["scalar"][1]["u2_minus_v2_final"] == pytest.approx(9.0, rel=0.05)  # stays unbalanced
    assert len(res["rank1"]["rows"]) == 4
    for r in res["rank1"]["rows"]:
        assert r["contraction_tail"] == pytest.approx(r["theory_contraction"], abs=5e-3)
        assert r["normu2"] == pytest.approx(5.0, rel=1e-5) and r["normv2"] == pytest.approx(5.0, rel=1e-5)
    dec = res["mf"]["runs"]["decaying delta=0.5"]
    assert dec["ratio_U_V"] == pytest.approx(1.0, abs=1e-3)
    assert dec["normU2"] == pytest.approx(dec["nuclear"], rel=1e-3)
    assert np.all(np.array(res["eta_scaling"]["halving_ratios"]) > 1.5)


def test_reproduce_rejects_bad_overrides(tmp_path):
    from wideflow.sweeps import SpecError

    with pytest.raises(SpecError, match="nope"):
        du2018.reproduce(str(tmp_path), overrides=["nope=1"])
