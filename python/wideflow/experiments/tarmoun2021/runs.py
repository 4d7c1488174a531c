"""Tarmoun et al. 2021: the study's stored runs as the analysis reads them (config, metrics, trajectory)."""

from __future__ import annotations

import numpy as np

from ...sweeps.runner_linear import target_matrix


def entries(data, section: str) -> list[dict]:
    """[{id, config, metrics, status, traj}] of a section's stored runs (failed ones left out), in spec order."""
    out = []
    for rid, cfg, rec in data.runs(section):
        if rec is None or rec["status"] == "failed":
            continue
        out.append(
            {"id": rid, "config": cfg, "metrics": rec["metrics"], "status": rec["status"], "traj": data.trajectory(rid)}
        )
    return out


def curve(e: dict, key: str = "metric_rel_error"):
    """(t, values) of an entry's trajectory."""
    return np.asarray(e["traj"]["t"]), np.asarray(e["traj"][key])


def target_of(entries_: list[dict]) -> np.ndarray | None:
    return target_matrix(entries_[0]["config"]) if entries_ else None


def by(entries_: list[dict], *keys) -> dict:
    """{(config[k] for k in keys) (or the single value): [entries]} in first-seen order."""
    out: dict = {}
    for e in entries_:
        key = tuple(e["config"][k] for k in keys)
        out.setdefault(key if len(keys) > 1 else key[0], []).append(e)
    return out
