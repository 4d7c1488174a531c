"""Du, Hu & Lee 2018: the numbers of every section, read from the study's store (the `res` dict that the
figures and the report take)."""

from __future__ import annotations

import math

import numpy as np

from ...factorization import Factorization
from ...sweeps.runner_linear import mode_factors, target_matrix
from .._report import fit_rate

STATUS = {"done": "completed", "diverged": "diverged", "failed": "failed"}


def _entries(data, section):
    return [(rid, cfg, rec) for rid, cfg, rec in data.runs(section) if rec is not None and rec["status"] != "failed"]


def _spikes(loss) -> int:
    return int(np.sum(np.diff(np.asarray(loss)) > 0))


def identity(data) -> dict:
    rows = []
    for _, cfg, rec in _entries(data, "identity"):
        m = rec["metrics"]
        lr = m["lr_step"]
        L = len(cfg["dims"]) - 1
        n0 = [m[f"norm2_W{h + 1}_init"] for h in range(L)]
        for h in range(L - 1):
            predicted = lr**2 * (m[f"grad_norm2_W{h + 1}_init"] - m[f"grad_norm2_W{h + 2}_init"])
            measured = m[f"diff_{h + 1}_drift"]
            rows.append(
                {
                    "pair": f"{h + 1}{h + 2}",
                    "measured": measured,
                    "predicted": predicted,
                    "rel_error": abs(measured - predicted) / abs(predicted),
                    "rounding_scale": float(np.finfo(float).eps * max(n0)),
                }
            )
        return {"lr_mean": cfg["lr"], "rows": rows}
    return {"lr_mean": math.nan, "rows": rows}


def relu3(data) -> dict:
    runs = []
    first = None
    for rid, cfg, rec in _entries(data, "relu3"):
        first = first or cfg
        m, tr = rec["metrics"], data.trajectory(rid)
        N = cfg["samples"]
        norms = np.asarray(tr["metric_layer_norms"])
        d12, d23 = norms[:, 0] - norms[:, 1], norms[:, 1] - norms[:, 2]
        kind = "balanced" if len(set(cfg["variances"])) > 1 else "unbalanced"
        runs.append(
            {
                "init": kind,
                "eta": cfg["lr"],
                "status": STATUS[rec["status"]],
                "steps": np.asarray(tr["steps"]).tolist(),
                "loss": (np.asarray(tr["loss"]) / N).tolist(),
                "norms": norms.tolist(),
                "norms0": norms[0].tolist(),
                "norms_final": norms[-1].tolist(),
                "d12_0": float(d12[0]),
                "d23_0": float(d23[0]),
                "d12_final": float(d12[-1]),
                "d23_final": float(d23[-1]),
                "max_change_d12": float(np.max(np.abs(d12 - d12[0]))),
                "max_change_d23": float(np.max(np.abs(d23 - d23[0]))),
                "r12_final": float(norms[-1, 0] / norms[-1, 1]),
                "r23_final": float(norms[-1, 1] / norms[-1, 2]),
                "loss0": float(m["initial_loss"] / N),
                "final_loss": float(m["final_loss"] / N),
                "spikes": _spikes(tr["loss"]),
            }
        )
    runs.sort(key=lambda r: (r["init"] != "balanced", r["eta"]))
    if first is None:
        return {"m": 0, "steps": 0, "record_every": 0, "runs": []}
    return {
        "m": first["samples"],
        "steps": first["steps"],
        "record_every": max(1, first["steps"] // first["record_points"]),
        "runs": runs,
    }


def eta_scaling(data) -> dict:
    rows = []
    for _, cfg, rec in _entries(data, "eta_scaling"):
        m = rec["metrics"]
        rows.append(
            {
                "lr": cfg["lr"],
                "steps": cfg["steps"],
                "drift": m["q_drift"],
                "per_step_over_lr2": m["q_drift"] / (cfg["steps"] * cfg["lr"] ** 2),
                "final_loss": m["final_loss"],
            }
        )
    rows.sort(key=lambda r: -r["lr"])
    d = np.array([r["drift"] for r in rows])
    lrs = np.array([r["lr"] for r in rows])
    slope = float(np.polyfit(np.log(lrs), np.log(d), 1)[0]) if d.size >= 2 else math.nan
    tau = rows[0]["lr"] * rows[0]["steps"] if rows else math.nan
    return {"tau": tau, "rows": rows, "halving_ratios": (d[:-1] / d[1:]).tolist(), "slope": slope}


class _Curve:
    """A stored factorization trajectory in the shape the figures draw (steps, loss, q_norm, rel error)."""

    def __init__(self, tr):
        self.steps, self.loss = np.asarray(tr["steps"]), np.asarray(tr["loss"])
        self.q_norm = np.asarray(tr.get("metric_q_norm", np.full(self.steps.size, np.nan)))
        self.rel_error = np.asarray(tr.get("metric_rel_error", np.full(self.steps.size, np.nan)))


def _mf_summary(data, rid, cfg, rec) -> dict:
    m = rec["metrics"]
    Y = target_matrix(cfg)
    nuc = float(np.linalg.svd(Y, compute_uv=False).sum())
    p = data.params(rid) if rec.get("has_params") else {}
    U = np.asarray(p.get("U", np.full((1, 1), np.nan)), dtype=np.float64)
    V = np.asarray(p.get("V", np.full((1, 1), np.nan)), dtype=np.float64)
    nu, nv = float(np.sum(U * U)), float(np.sum(V * V))
    q = _Curve(data.trajectory(rid)).q_norm
    return {
        "status": STATUS[rec["status"]],
        "diverged_at": m.get("diverged_at"),
        "steps": m["final_step"],
        "flow_time": m["flow_time"],
        "loss0": m["initial_loss"],
        "final_loss": m["final_loss"],
        "normU2": nu,
        "normV2": nv,
        "nuclear": nuc,
        "ratio_U_V": math.sqrt(nu / nv) if nv > 0 else math.inf,
        "imbalance0": m["q_norm_init"],
        "imbalance_final": m["q_norm"],
        "imbalance_max": float(np.nanmax(q)),
    }


def mf(data) -> dict:
    runs, curves = {}, {}
    sigma1 = nuclear = math.nan
    for section in ("mf", "theorem"):
        for rid, cfg, rec in _entries(data, section):
            Y = target_matrix(cfg)
            sv = np.linalg.svd(Y, compute_uv=False)
            sigma1, nuclear = float(sv[0]), float(sv.sum())
            if section == "theorem":
                name = "theorem schedule (eps=1e-2, delta=1/2)"
            elif cfg["lr_power"] > 0:
                name = f"decaying delta={cfg['lr_power'] - 0.5:g}"
            else:
                name = f"constant {cfg['lr']:g}"
            s = _mf_summary(data, rid, cfg, rec)
            if cfg["lr_power"] > 0:
                s["sum_eta"] = rec["metrics"]["flow_time"]
            if section == "theorem":
                s["half_norm2"] = 0.5 * float(np.sum(Y * Y))
            runs[name] = s
            if section == "mf":
                curves[name] = _Curve(data.trajectory(rid))
    return {"sigma1": sigma1, "nuclear": nuclear, "runs": runs, "curves": curves}


def counterexample(data) -> dict:
    scalar = []
    for rid, cfg, rec in _entries(data, "counterexample"):
        m, tr = rec["metrics"], data.trajectory(rid)
        u, v = mode_factors(cfg["mode_x0"], cfg["mode_lambda"])
        lam = cfg["mode_lambda"]
        # u^2 and v^2 along the run from x = uv (the singular value) and Q = u^2 - v^2 (sign of Q0)
        x = np.asarray(tr["metric_singular_values"])[:, 0]
        Q = np.copysign(np.asarray(tr["metric_q_norm"]), lam if lam != 0 else 1.0)
        u2 = 0.5 * (Q + np.sqrt(Q * Q + 4 * x * x))
        p = data.params(rid) if rec.get("has_params") else {}
        uf = float(np.asarray(p.get("U", [[np.nan]]))[0, 0])
        vf = float(np.asarray(p.get("V", [[np.nan]]))[0, 0])
        scalar.append(
            {
                "u0": u,
                "v0": v,
                "stable_at_start": cfg["lr"] * (u * u + v * v) < 2,
                "status": STATUS[rec["status"]],
                "diverged_at": m.get("diverged_at"),
                "u": uf,
                "v": vf,
                "uv": uf * vf,
                "u2_minus_v2_0": u * u - v * v,
                "u2_minus_v2_final": m["q_eig_min"],
                "traj": np.stack([u2, u2 - Q], axis=1).tolist(),
                "loss": np.asarray(tr["loss"]).tolist(),
            }
        )
    matrix = []
    for rid, cfg, rec in _entries(data, "counterexample_matrix"):
        s = _mf_summary(data, rid, cfg, rec)
        a, b = cfg["u_scale"], cfg["v_scale"]
        f0 = Factorization.init(cfg["m"], cfg["n"], cfg["k"], scale=cfg["init_scale"], seed=cfg["seed"])
        norms0 = float(np.sum((a * f0.U) ** 2) + np.sum((b * f0.V) ** 2))
        s.update(
            {
                "scale_U": a,
                "scale_V": b,
                "lr_times_norms0": cfg["lr"] * norms0,
                "loss": np.asarray(data.trajectory(rid)["loss"]).tolist(),
            }
        )
        matrix.append(s)
    return {"scalar": scalar, "matrix": matrix}


def rank1(data) -> dict:
    rows = []
    sigma1 = math.nan
    for rid, cfg, rec in _entries(data, "rank1"):
        tr = data.trajectory(rid)
        sigma1 = cfg["target_scale"]
        lr = cfg["lr"]
        err = np.asarray(tr["metric_rel_error"])
        steps = np.asarray(tr["steps"])
        hit = np.flatnonzero(err < 1e-8)
        p = data.params(rid)
        U, V = np.asarray(p["U"], dtype=np.float64), np.asarray(p["V"], dtype=np.float64)
        q = np.asarray(tr["metric_q_norm"])  # | ||u||^2 - ||v||^2 | (k = 1)
        rows.append(
            {
                "c_step": lr * sigma1,
                "lr": lr,
                "s0": cfg["init_scale"] * math.sqrt(max(cfg["m"], cfg["n"])),
                "status": STATUS[rec["status"]],
                "iters_to_1e-8": int(steps[hit[0]]) if hit.size else None,
                "contraction": math.exp(-fit_rate(steps, err, 1e-7, 1e-3)),
                "contraction_tail": math.exp(-fit_rate(steps, err, 1e-13, 1e-9)),
                "theory_contraction": 1 - lr * sigma1,
                "theory_fast_mode": 1 - 2 * lr * sigma1,
                "normu2": float(np.sum(U * U)),
                "normv2": float(np.sum(V * V)),
                "diff0": rec["metrics"]["q_eig_min_init"],
                "diff_max_abs": float(np.max(q)),
                "err": err.tolist(),
                "steps": steps.tolist(),
            }
        )
    return {"sigma1": sigma1, "rows": rows}


def results(data) -> dict:
    return {
        "identity": identity(data),
        "relu3": relu3(data),
        "eta_scaling": eta_scaling(data),
        "mf": mf(data),
        "counterexample": counterexample(data),
        "rank1": rank1(data),
    }
