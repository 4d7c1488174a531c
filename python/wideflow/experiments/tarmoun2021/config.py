"""Tarmoun et al. 2021: the study's sections, the report's fixed choices, the nonlinear experiment's
parameters (`NonlinearConfig`; its runs are NumPy models, not stored) and small shared helpers. The
parameters of every stored run are in specs/*.toml."""

from __future__ import annotations

import os
from dataclasses import dataclass

from .._report import save_figure


@dataclass(frozen=True)
class NonlinearConfig:
    """The nonlinear experiment (the paper does not give its sizes and init, hence all exposed).

    Data: X (N x d) and W (d x p) with N(0, 1) entries, Y = relu(X W) + noise * N(0, 1).
    Models: one-layer relu(X A) (A: d x p) and two-layer relu(X U V^T) (U: d x k, V: p x k), loss
    1/2 ||Y - f(X)||_F^2, GD with step `lr` up to flow time `t_end`. Init: entries N(0, variance) for U, V;
    the one-layer model starts at A0 = U0 V0^T (`one_layer_init="product"`) or N(0, variance) ("gaussian").
    """

    N: int = 100
    d: int = 10
    p: int = 5
    k: int = 50
    noise: float = 1e-3
    variances: tuple = (0.01, 0.1, 1.0)
    lr: float = 1e-5
    t_end: float = 2.0
    seed: int = 0
    one_layer_init: str = "product"
    record_every: int = 200


SECTIONS = ("section6", "one_layer", "lr_pairs", "flow", "k_sweep", "late_rates", "modes", "overlays")
T_PLOT = 10.0  # horizon of the error and singular-value curves
SV_TIMES = (1.0, 2.0, 3.0, 4.0, 5.0)  # the singular-value table
SV_SIGMAS = (1e-3, 1.0)


def nonlinear_config(mode: str) -> NonlinearConfig:
    """The full nonlinear experiment for the full specs; a shorter one (one variance, t = 0.5) otherwise."""
    return NonlinearConfig() if mode == "full" else NonlinearConfig(variances=(0.1,), t_end=0.5)


def yes_no(ok: bool) -> str:
    return "yes" if ok else "**no**"


def png(fig, out_dir, name) -> str:
    """Save `name`.png and .pdf in out_dir; returns the PNG's file name (for the report's image links)."""
    save_figure(fig, os.path.join(out_dir, name))
    return f"{name}.png"
