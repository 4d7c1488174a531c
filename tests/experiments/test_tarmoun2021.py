"""Smoke test of the Tarmoun et al. (2021) reproduction on a tiny configuration (a few seconds)."""

from __future__ import annotations

from pathlib import Path
import os

import pytest

from wideflow.experiments import tarmoun2021 as exp


def test_reproduce_tiny_config(tmp_path):
    cfg = exp.Config(seeds=2, sigmas=(1e-2, 0.3), T=2.0, T_drift=3.0, sv_sigmas=(1e-2,), sv_times=(1.0,),
                     gf_check_sigmas=(0.1,), gf_check_T=1.0, ks=(5, 50), k_table=((50, 0.3),), T_rate=3.0,
                     imbalance_lambdas=(0.0, 1.0, 10.0), overlay_T=1.0,
                     nonlinear=exp.NonlinearConfig(N=20, k=8, variances=(0.1,), lr=1e-4, t_end=0.05))
    path = exp.reproduce(str(tmp_path), config=cfg)
    text = Path(path).read_text(encoding="utf-8")
    for heading in ("## 1. Section 6", "## 2. Width sweep", "## 3. Convergence time against imbalance",
                    "## 4. Closed forms", "## 5. Nonlinear"):
        assert heading in text
    assert "**no**" not in text.split("## 3.")[1].split("## 4.")[0]  # t_eps decreasing in lambda
    for name in ("error_vs_t", "singular_values", "imbalance_drift", "k_sweep", "convergence_vs_imbalance",
                 "closed_form_overlays", "nonlinear"):
        for ext in ("png", "pdf"):
            assert os.path.getsize(tmp_path / f"tarmoun2021_{name}.{ext}") > 1000


def test_reproduce_rejects_bad_config(tmp_path):
    with pytest.raises(ValueError, match="one_layer_init"):
        exp.reproduce(str(tmp_path), config=exp.Config(one_layer_init="bogus"))
