"""Tarmoun et al. 2021: the study's sections, the report's fixed choices and small shared helpers. The
parameters of every stored run are in specs/*.toml."""

from __future__ import annotations

import os

from .._report import save_figure

SECTIONS = ("section6", "one_layer", "lr_pairs", "flow", "k_sweep", "late_rates", "modes", "overlays", "nonlinear")
T_PLOT = 10.0  # horizon of the error and singular-value curves
SV_TIMES = (1.0, 2.0, 3.0, 4.0, 5.0)  # the singular-value table
SV_SIGMAS = (1e-3, 1.0)


def yes_no(ok: bool) -> str:
    return "yes" if ok else "**no**"


def png(fig, out_dir, name) -> str:
    """Save `name`.png and .pdf in out_dir; returns the PNG's file name (for the report's image links)."""
    save_figure(fig, os.path.join(out_dir, name))
    return f"{name}.png"
