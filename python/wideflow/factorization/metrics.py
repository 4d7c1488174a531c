"""The diagnostics `wf.train` records for a `Factorization` or a `OneLayer` (`run.metrics`): relative error,
singular values, and the imbalance norm, spectrum and drift (see the package docstring for their costs)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .imbalance import _q_drift, _q_norm, imbalance_spectrum

if TYPE_CHECKING:
    from .model import Factorization

FAC_METRICS = ("rel_error", "singular_values", "q_norm", "q_eig", "q_drift")
ONE_LAYER_METRICS = ("rel_error", "singular_values")


def _rel_error(losses, ynorm):
    """||Y - X||_F / ||Y||_F = sqrt(2 L) / ||Y||_F from the recorded losses."""
    if not ynorm > 0:
        return np.full(np.shape(losses), np.nan)
    return np.sqrt(2.0 * np.maximum(np.asarray(losses, dtype=np.float64), 0.0)) / ynorm


def _metrics(fac: Factorization, Y64, ynorm, U0, V0, names=FAC_METRICS) -> dict:
    """The per-record diagnostics of a factorization run (GD or flow) named in `names`; NaN for a
    non-finite state (a diverged run with keep_finite=False, or products that overflow), which LAPACK
    cannot factor."""
    U = fac.U.astype(np.float64)
    V = fac.V.astype(np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        X = U @ V.T if ("rel_error" in names or "singular_values" in names) else None
        finite = bool(np.all(np.isfinite(U)) and np.all(np.isfinite(V)) and (X is None or np.all(np.isfinite(X))))
        if finite:
            try:
                out: dict[str, Any] = {}
                if "rel_error" in names:
                    out["rel_error"] = float(np.linalg.norm(Y64 - X) / ynorm) if ynorm > 0 else np.nan
                if "singular_values" in names and X is not None:
                    out["singular_values"] = np.linalg.svd(X, compute_uv=False)
                if "q_norm" in names:
                    out["q_norm"] = _q_norm(U, V)
                if "q_eig" in names:
                    out["q_eig"] = imbalance_spectrum(U, V)
                if "q_drift" in names:
                    out["q_drift"] = _q_drift(U, V, U0, V0)
                return out
            except np.linalg.LinAlgError:  # e.g. U^T U overflowed
                pass
    m, n = fac.shape
    k = fac.width
    nan = {
        "rel_error": np.nan,
        "singular_values": np.full(min(m, n), np.nan),
        "q_norm": np.nan,
        "q_eig": np.full(min(k, m + n), np.nan),
        "q_drift": np.nan,
    }
    return {name: v for name, v in nan.items() if name in names}


def _one_layer_metrics(X, Y64, ynorm, names) -> dict:
    """rel_error and singular_values of a OneLayer state X (those in `names`); NaN for a non-finite state
    (a diverged run kept with keep_finite=False), which LAPACK cannot factor."""
    if not np.all(np.isfinite(X)):
        nan = {"rel_error": np.nan, "singular_values": np.full(min(X.shape), np.nan)}
        return {name: v for name, v in nan.items() if name in names}
    out: dict[str, Any] = {}
    if "rel_error" in names:
        out["rel_error"] = float(np.linalg.norm(Y64 - X) / ynorm) if ynorm > 0 else np.nan
    if "singular_values" in names:
        out["singular_values"] = np.linalg.svd(X, compute_uv=False)
    return out
