"""Width-scaling analysis of the Williams 2019 reproduction: slopes, floors, crossing widths, and the pipeline."""

from __future__ import annotations

from pathlib import Path
import os

import numpy as np
import pytest

from wideflow import datasets
from wideflow.experiments import williams2019 as w19
from wideflow.experiments import williams2019_scaling as ws


@pytest.fixture(scope="module")
def refs():
    return w19.references(*datasets.load("square10"))


def test_summary_recovers_slopes_floors_and_crossings(refs):
    """Synthetic distances d_kinf = C m^-1/2, d_X = sqrt(F_X^2 + d_kinf^2) with F_X the true gaps: the fit gives
    slope -1/2 for K_inf, the crossing m* = (F/C)^-2, and the pre-floor slope of d_X near -1/2."""
    cfg = w19.Config.tiny()
    widths = [int(round(10 ** (k / 2))) for k in range(4, 17)]
    C = 3.0
    rows = []
    x, _ = datasets.load("square10")
    for scheme in ws.SCHEMES:
        floors = {k: w19._sup(refs[f"kinf_{scheme}"], refs[key], x)
                  for k, key in (("rho", f"rho_{scheme}"), ("ncs", "ncs"), ("linear", "linear"))}
        for m in widths:
            dk = C * m ** -0.5
            for seed in range(2):
                rows.append(dict(scheme=scheme, m=m, seed=seed, wall=0.0, kinf=dk,
                                 **{k: float(np.hypot(F, dk)) for k, F in floors.items()}))
    s = ws.summarize(rows, refs, cfg)
    for scheme in ws.SCHEMES:
        sc = s[scheme]
        assert sc["slopes"]["kinf"] == pytest.approx(-0.5, abs=1e-12)
        assert sc["prefactor"] == pytest.approx(C, rel=1e-10)
        for key in ("rho", "ncs"):
            F = sc["floors"][key]
            assert sc["cross"][key] == pytest.approx((F / C) ** -2, rel=1e-9)
            assert sc["table"][key][0][-1] == pytest.approx(F, rel=0.01)  # at 1e8 the distance sits on the floor
            if sc["cross"][key] / 10 >= widths[1]:
                assert -0.5 < sc["slopes_pre"][key] < -0.4
            assert sc["slopes"][key] > sc["slopes"]["kinf"]  # the floor flattens the whole-range fit
    text = "\n".join(ws.report_section(s, [], cfg) + ws.checks(s, [], cfg))
    assert "meets floor at m*" in text and "affine-part gap" in text and "Gaussian-ρ gap" in text
    assert "NOT MET" not in text


def test_reproduce_scaling_tiny(tmp_path):
    out = tmp_path / "scaling"
    path = ws.reproduce_scaling(str(out), config=w19.Config.tiny(), quiet=True)
    text = Path(path).read_text(encoding="utf-8")
    assert "## 5. Width scaling" in text and "data hull [−1, 1]" in text
    for ext in ("png", "pdf"):
        assert (out / f"width_scaling.{ext}").stat().st_size > 1000
    rows, gd = ws.load_rows(str(out))
    cfg = w19.Config.tiny()
    assert len(rows) == len(ws.SCHEMES) * len(cfg.scaling_widths) * cfg.scaling_seeds
    assert {r["m"] for r in rows} == set(cfg.scaling_widths)
    assert len(gd) == sum(len(w) for _, w in cfg.gd_runs)
    assert all(np.isfinite(r["kinf"]) and r["residual"] < 1e-6 for r in rows)
    assert os.path.basename(path) == "scaling.md"
