"""Tarmoun et al. 2021: every parameter of the reproduction (`Config`, `NonlinearConfig`, `quick_config`)
and the small helpers the sections share."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field

import numpy as np

from ...datasets import gaussian_matrix
from ...factorization import Factorization
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


@dataclass(frozen=True)
class Config:
    """Parameters of the reproduction (defaults: the paper's sizes; the rest: docs page reproductions).

    m, n, k, lr: the Section 6 problem and step; t = lr * step.
    y_seed: seed of Y ~ N(0, 1); init seeds are init_seed + 0, 1, ..., seeds - 1.
    sigmas: init scales (U, V entries N(0, sigma^2)); T: horizon of the error curves; T_drift: horizon of
        the imbalance-drift report.
    one_layer_init: "product" (X0 = U0 V0^T, the same function as the two-layer model at init) or "zero".
    eps_levels: relative-error levels of the hitting-time table.
    ks, k_sigma: the width sweep (figure); k_table: the (k, sigma_init) settings of the late-rate table
        (docs theory/tarmoun2021 § Riccati), run to T_rate.
    imbalance_*: the convergence-time-vs-imbalance table (docs § scalar modes): one mode sigma, x0, tolerance,
        lambdas; GD at lr and at lr_fine.
    overlay_T: horizon of the closed-form overlays.
    """

    m: int = 5
    n: int = 10
    k: int = 50
    lr: float = 1e-3
    y_seed: int = 0
    init_seed: int = 1000
    seeds: int = 20
    sigmas: tuple = (1e-3, 1e-2, 1e-1, 0.3, 0.5, 1.0)
    T: float = 10.0
    T_drift: float = 30.0
    one_layer_init: str = "product"
    eps_levels: tuple = (1e-1, 1e-2, 1e-4)
    sv_times: tuple = (1.0, 2.0, 3.0, 4.0, 5.0)
    sv_sigmas: tuple = (1e-3, 1.0)
    gf_check_sigmas: tuple = (0.01, 0.1, 1.0)
    gf_check_T: float = 8.0
    lr_fine: float = 1e-4
    ks: tuple = (5, 10, 20, 50, 100, 200)
    k_sigma: float = 0.1
    k_table: tuple = ((5, 0.01), (5, 0.3), (10, 0.3), (50, 0.01), (50, 0.1), (50, 0.3), (100, 0.1), (100, 0.3))
    T_rate: float = 40.0
    imbalance_sigma: float = 1.0
    imbalance_x0: float = 1e-4
    imbalance_eps: float = 1e-3
    imbalance_lambdas: tuple = (0.0, 0.01, 0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 50.0)
    overlay_T: float = 10.0
    nonlinear: NonlinearConfig = field(default_factory=NonlinearConfig)


def quick_config() -> Config:
    """About a minute on 2 cores: fewer seeds, widths and variances; shorter nonlinear horizon."""
    return Config(seeds=4, ks=(5, 20, 50, 200), T_rate=30.0,
                  nonlinear=NonlinearConfig(variances=(0.1,), t_end=0.5))


def target(cfg: Config) -> np.ndarray:
    return gaussian_matrix(cfg.m, cfg.n, cfg.y_seed)


def inits(cfg: Config, k: int, sigma: float, count: int):
    facs = [Factorization.init(cfg.m, cfg.n, k, scale=sigma, seed=cfg.init_seed + s) for s in range(count)]
    return np.stack([f.U for f in facs]), np.stack([f.V for f in facs])


def yes_no(ok: bool) -> str:
    return "yes" if ok else "**no**"


def png(fig, out_dir, name) -> str:
    """Save `name`.png and .pdf in out_dir; returns the PNG's file name (for the report's image links)."""
    save_figure(fig, os.path.join(out_dir, name))
    return f"{name}.png"


def config_lines(cfg: Config) -> list[str]:
    d = asdict(cfg)
    nl = d.pop("nonlinear")
    return [f"{k} = {v!r}" for k, v in d.items()] + [f"nonlinear.{k} = {v!r}" for k, v in nl.items()]
