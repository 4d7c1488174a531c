"""The Williams et al. 2019 study's runs as the analysis reads them from the store, and the flow section
that is derived from stored results."""

from __future__ import annotations

import math

from ... import datasets
from ...sweeps import runner_shallow
from ...sweeps.runners import FLOW_ONLY, GD_ONLY
from ...sweeps.spec import Sweep, apply_overrides
from .config import regime_of
from .measures import net_of, row_of

STATUS = {"done": "completed", "diverged": "diverged", "failed": "failed"}


def derive_flow(data, quick: bool, overrides: dict) -> list[Sweep]:
    """The "flow" section: for every stored run of flow_gd, the same init integrated by gradient flow up to
    the flow time that GD reached (t_end = sum_k eta_k, the stored flow_time), with the integrator fields of
    specs/flow.toml. Run ids are content hashes, so a rerun derives the same runs and skips them."""
    from .._study import load_section

    template = load_section(data.study, "flow", quick, overrides.get("flow"))
    drop = set(GD_ONLY) | set(FLOW_ONLY) | set(runner_shallow.GD_ONLY_LONG) | {"method"}
    cases = []
    for _, cfg, rec in data.runs("flow_gd"):
        if rec is None or rec["status"] != "done":
            continue
        t_end = rec["metrics"].get("flow_time")
        if not isinstance(t_end, float) or not math.isfinite(t_end) or t_end <= 0:
            continue
        case = {k: v for k, v in cfg.items() if k not in drop and k not in template.fixed}
        case["t_end"] = t_end
        cases.append(case)
    if not cases:
        return []
    spec = apply_overrides({"model": "shallow_relu", "fixed": dict(template.fixed), "grid": {}, "cases": cases}, [])
    return [Sweep.from_dict(spec, name="williams2019:flow")]


def _curves(traj: dict) -> dict:
    return {k[len("curve_") :]: traj[k] for k in traj if k.startswith("curve_")}


def _snaps(traj: dict) -> list:
    if "snap_steps" not in traj:
        return []
    return [
        (int(s), {"a": traj["snap_a"][i], "b": traj["snap_b"][i], "c": traj["snap_c"][i]})
        for i, s in enumerate(traj["snap_steps"])
    ]


def _entry(
    data, rid: str, cfg: dict, rec: dict, *, curves: bool = False, snaps: bool = False, net: bool = False
) -> dict:
    m = rec["metrics"]
    out = {
        "id": rid,
        "config": cfg,
        "metrics": m,
        "dataset": cfg["dataset"],
        "m": cfg["width"],
        "lr": m.get("lr_step", math.nan),
        "alpha": m.get("alpha", math.nan),
        "status": STATUS.get(rec["status"], rec["status"]),
        "end": row_of(m),
        "paper": row_of(m, "checkpoint_") if "checkpoint_loss" in m else row_of(m),
        "train": cfg["train"],
    }
    traj = data.trajectory(rid)
    out["steps"], out["t"], out["loss"] = traj.get("steps"), traj.get("t"), traj.get("loss")
    if curves:
        out["curves"] = _curves(traj)
    if snaps:
        out["snaps"] = _snaps(traj)
    if net and rec.get("has_params"):
        out["net"] = net_of(data.params(rid))
    return out


def regime_results(data) -> list[dict]:
    """One entry per stored regime run (dataset x regime), with both phases, curves, snapshots, the net."""
    out = []
    for rid, cfg, rec in data.runs("regimes"):
        if rec is None or rec["status"] == "failed":
            continue
        e = _entry(data, rid, cfg, rec, curves=True, snaps=True, net=True)
        e["regime"] = regime_of(cfg)
        if e["regime"] is not None:
            out.append(e)
    return out


def trained_sets(data) -> list[dict]:
    from .config import init_key

    out = []
    for rid, cfg, rec in data.runs("trained_sets"):
        if rec is None or rec["status"] == "failed":
            continue
        e = _entry(data, rid, cfg, rec, curves=True, net=True)
        e["key"], e["label"] = init_key(cfg)
        e["scales"] = f"({cfg['inner_scale']:g}, {cfg['outer_scale']:g})"
        e["row"] = dict(e["end"])
        out.append(e)
    return out


def step_sizes(data) -> list[dict]:
    out = []
    for rid, cfg, rec in data.runs("step_size"):
        if rec is None or rec["status"] == "failed":
            continue
        e = _entry(data, rid, cfg, rec)
        m = e["metrics"]
        lam, alpha = m.get("lambda_max_init", math.nan), m.get("alpha", math.nan)
        e.update(
            lr_bar=cfg["lr"],
            row=e["end"],
            steps_done=e["end"]["step"],
            max_param=m.get("max_abs_param"),
            delta0_median=m.get("delta0_median"),
            delta0_max=m.get("delta0_max"),
            lr_bar_lambda=1.0 / (lam * alpha) if lam and alpha else math.nan,
        )
        out.append(e)
    return out


def width_limit_rows(data) -> list[dict]:
    """The c-only limit rows of the width-scaling section (one per scheme, width, seed)."""
    rows = []
    for _, cfg, rec in data.runs("width_limits"):
        if rec is None or rec["status"] != "done":
            continue
        m = rec["metrics"]
        rows.append(
            dict(
                scheme=cfg["scheme"],
                m=cfg["width"],
                seed=cfg["seed"],
                kinf=m["dist_kinf_sup"],
                rho=m["dist_rho_sup"],
                ncs=m["dist_ncs_sup"],
                linear=m["dist_linear_sup"],
                residual=m.get("residual", math.nan),
                wall=float(m.get("train_time", 0.0)),
            )
        )
    return rows


def width_gd_rows(data) -> list[dict]:
    rows = []
    for _, cfg, rec in data.runs("width_gd"):
        if rec is None or rec["status"] == "failed":
            continue
        m = rec["metrics"]
        row = row_of(m)
        row.update(conly_kinf=m.get("conly_kinf_sup", math.nan), conly_ncs=m.get("conly_ncs_sup", math.nan))
        rows.append(
            dict(
                scheme=cfg["scheme"],
                m=cfg["width"],
                lr=m.get("lr_step", math.nan),
                alpha=m.get("alpha", math.nan),
                steps=m.get("final_step", 0),
                loss=m.get("final_loss"),
                status=STATUS.get(rec["status"], rec["status"]),
                wall=float(m.get("train_time", 0.0)),
                row=row,
                scales=(cfg["inner_scale"], cfg["outer_scale"]),
                eta_lambda=cfg["eta_lambda"],
                loss_tol=cfg["loss_tol"],
                max_steps=cfg["steps"],
            )
        )
    return rows


def flow_pairs(data) -> list[dict]:
    """(GD run, flow run) pairs of the flow section: the same init, the flow at the GD run's flow time."""
    flows = {}
    for rid, cfg, rec in data.runs("flow"):
        if rec is not None and rec["status"] != "failed":
            key = (cfg["dataset"], cfg["scheme"], cfg["inner_scale"], cfg["outer_scale"], cfg["width"], cfg["seed"])
            flows[key] = _entry(data, rid, cfg, rec, curves=True, net=True)
    out = []
    for rid, cfg, rec in data.runs("flow_gd"):
        if rec is None or rec["status"] == "failed":
            continue
        key = (cfg["dataset"], cfg["scheme"], cfg["inner_scale"], cfg["outer_scale"], cfg["width"], cfg["seed"])
        gd = _entry(data, rid, cfg, rec, curves=True, net=True)
        gd["regime"] = regime_of(cfg)
        if key in flows:
            flows[key]["regime"] = gd["regime"]
        out.append({"gd": gd, "flow": flows.get(key), "regime": regime_of(cfg), "dataset": cfg["dataset"]})
    return out


def flow_long(data) -> list[dict]:
    out = []
    for rid, cfg, rec in data.runs("flow_long"):
        if rec is not None and rec["status"] != "failed":
            e = _entry(data, rid, cfg, rec, curves=True, net=True)
            e["regime"] = regime_of(cfg)
            out.append(e)
    return out


def data_points(name: str):
    return datasets.load(name)
