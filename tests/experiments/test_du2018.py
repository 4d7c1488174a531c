"""Smoke test of `wideflow reproduce du2018` at toy sizes, plus the claims its report rests on."""

from pathlib import Path
import json
import os

import numpy as np
import pytest

from wideflow.experiments import du2018


def test_reproduce_du2018_toy(tmp_path):
    report = du2018.reproduce(tmp_path, quick=True, overrides={"relu_m": 20, "relu_steps": 40, "relu_record": 4,
                                                                "mf_steps": 600, "theorem_steps": 200,
                                                                "rank1_steps": 600, "scaling_tau": 8.0})
    assert os.path.basename(report) == "report.md"
    text = Path(report).read_text(encoding="utf-8")
    for part in ("one-step identity", "3-layer ReLU", "fixed flow time", "matrix factorization", "counterexample",
                 "Rank-1"):
        assert part in text
    for name in ("relu3", "eta_scaling", "mf", "counterexample", "rank1"):
        for ext in ("png", "pdf"):
            assert os.path.getsize(tmp_path / f"{name}.{ext}") > 0
    res = json.loads((tmp_path / "results.json").read_text())
    assert all(r["rel_error"] < 1e-6 for r in res["identity"]["rows"])
    cex = res["counterexample"]
    assert [s["status"] for s in cex["scalar"]] == ["completed", "completed", "diverged"]
    assert [m["status"] for m in cex["matrix"]] == ["completed", "diverged", "diverged"]
    assert cex["scalar"][1]["u2_minus_v2_final"] == pytest.approx(9.0, rel=0.05)  # stays unbalanced
    for r in res["rank1"]["rows"]:
        assert r["contraction_tail"] == pytest.approx(r["theory_contraction"], abs=5e-3)
        assert r["normu2"] == pytest.approx(5.0, rel=1e-5) and r["normv2"] == pytest.approx(5.0, rel=1e-5)
    dec = res["mf"]["runs"]["decaying delta=0.5"]
    assert dec["ratio_U_V"] == pytest.approx(1.0, abs=1e-3)
    assert dec["normU2"] == pytest.approx(dec["nuclear"], rel=1e-3)
    assert np.all(np.array(res["eta_scaling"]["halving_ratios"]) > 1.5)
    with pytest.raises(ValueError, match="overrides"):
        du2018.reproduce(tmp_path, overrides={"nope": 1})
