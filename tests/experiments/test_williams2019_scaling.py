"""Width-scaling analysis of the Williams 2019 reproduction: slopes, floors, crossing widths, and the width
sections run as a study (the outer_limit runner into the store, read back by the analysis)."""

from __future__ import annotations

import numpy as np
import pytest

from wideflow import datasets
from wideflow.experiments import williams2019 as w19
from wideflow.experiments._study import StudyData, load_section
from wideflow.experiments.williams2019 import runs
from wideflow.experiments.williams2019 import scaling as ws
from wideflow.experiments.williams2019.measures import sups
from wideflow.sweeps.driver import run_sweeps


@pytest.fixture(scope="module")
def refs():
    return w19.references(*datasets.load("square10"))


def test_summary_recovers_slopes_floors_and_crossings(refs):
    """Synthetic distances d_kinf = C m^-1/2, d_X = sqrt(F_X^2 + d_kinf^2) with F_X the true gaps: the fit gives
    slope -1/2 for K_inf, the crossing m* = (F/C)^-2, and the pre-floor slope of d_X near -1/2."""
    widths = [int(round(10 ** (k / 2))) for k in range(4, 17)]
    C = 3.0
    rows = []
    x, _ = datasets.load("square10")
    for scheme in ("uniform_knots", "gaussian"):
        floors = {
            k: sups(refs[f"kinf_{scheme}"], {"g": refs[key]}, x)["g"]
            for k, key in (("rho", f"rho_{scheme}"), ("ncs", "ncs"), ("linear", "linear"))
        }
        for m in widths:
            dk = C * m**-0.5
            for seed in range(2):
                rows.append(
                    dict(
                        scheme=scheme,
                        m=m,
                        seed=seed,
                        wall=0.0,
                        kinf=dk,
                        **{k: float(np.hypot(F, dk)) for k, F in floors.items()},
                    )
                )
    s = ws.summarize(rows, refs)
    for scheme in ("uniform_knots", "gaussian"):
        sc = s[scheme]
        assert sc["seeds"] == 2
        assert sc["slopes"]["kinf"] == pytest.approx(-0.5, abs=1e-12)
        assert sc["prefactor"] == pytest.approx(C, rel=1e-10)
        for key in ("rho", "ncs"):
            F = sc["floors"][key]
            assert sc["cross"][key] == pytest.approx((F / C) ** -2, rel=1e-9)
            assert sc["table"][key][0][-1] == pytest.approx(F, rel=0.01)  # at 1e8 the distance sits on the floor
            if sc["cross"][key] / 10 >= widths[1]:
                assert -0.5 < sc["slopes_pre"][key] < -0.4
            assert sc["slopes"][key] > sc["slopes"]["kinf"]  # the floor flattens the whole-range fit
    text = "\n".join(ws.report_section(s, []) + ws.checks(s, []))
    assert "meets floor at m*" in text and "affine-part gap" in text and "Gaussian-ρ gap" in text
    assert "NOT MET" not in text


def test_width_sections_through_the_store(tmp_path):
    sweeps = [
        load_section(w19.STUDY, "width_limits", overrides=["grid.width=[100, 1000, 10000]", "grid.seed=[0, 1]"]),
        load_section(
            w19.STUDY,
            "width_gd",
            overrides=[
                "steps=1000",
                "cases=[{scheme = 'uniform_knots', width = 100}, {scheme = 'gaussian', width = 200}]",
            ],
        ),
    ]
    run_sweeps(sweeps, str(tmp_path), progress="off")
    with StudyData(str(tmp_path), w19.STUDY) as data:
        rows = runs.width_limit_rows(data)
        gd = runs.width_gd_rows(data)
    assert len(rows) == 2 * 3 * 2
    assert {r["m"] for r in rows} == {100, 1000, 10000}
    assert all(np.isfinite(r["kinf"]) and r["residual"] < 1e-6 for r in rows)
    assert [(g["scheme"], g["m"]) for g in gd] == [("uniform_knots", 100), ("gaussian", 200)]
    assert all(np.isfinite(g["row"]["conly"]) and np.isfinite(g["row"]["conly_kinf"]) for g in gd)
    s = ws.summarize(rows, w19.references(*datasets.load("square10")))
    text = "\n".join(ws.report_section(s, gd))
    assert "## 5. Width scaling" in text and "data hull [−1, 1]" in text
    assert ws.figure(str(tmp_path), s, gd) and (tmp_path / "width_scaling.png").stat().st_size > 1000
