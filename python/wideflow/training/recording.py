"""Which steps a training run records, and the record it returns."""

from __future__ import annotations

import functools
import numbers
from dataclasses import dataclass, field
from typing import Any

import numpy as np

MAX_RECORDED = 10**8  # recorded states per run (each costs a few floats, more with metrics)


def _step_indices(spec: Any, name: str) -> np.ndarray:
    """Integer step indices from a list or array; a value that is not a whole number is refused (it would
    otherwise be truncated to another step)."""
    try:
        raw = np.asarray(spec).ravel()
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name}: expected 'log', 'all', an int or a list of step indices") from exc
    if raw.size == 0:
        return np.zeros(0, dtype=np.int64)
    if raw.dtype.kind in "iu":
        return raw.astype(np.int64)
    if raw.dtype.kind != "f":
        raise TypeError(f"{name}: expected 'log', 'all', an int or a list of step indices, got {raw.dtype} values")
    whole = np.isfinite(raw) & (raw == np.round(raw))
    if not whole.all():
        raise TypeError(f"{name}: step indices must be whole numbers, got {raw[~whole][0]!r}")
    if np.abs(raw).max() >= 2.0**62:
        raise ValueError(f"{name}: step index {raw[np.argmax(np.abs(raw))]!r} is out of range")
    return raw.astype(np.int64)


@functools.lru_cache(maxsize=64)
def _log_steps(steps: int, points: int) -> np.ndarray:
    """0 and about `points` log-spaced steps in [1, steps] (read-only; cached: runs repeat their lengths)."""
    g = np.power(10.0, np.linspace(0.0, np.log10(steps), points))  # np.geomspace(1, steps, points),
    g[0], g[-1] = 1.0, steps  # without its overhead
    r = np.round(g).astype(np.int64)  # ascending: drop repeats without a sort; 0 before, steps last
    out: np.ndarray = np.concatenate([[0], r[np.concatenate([[True], r[1:] != r[:-1]])]])
    out.flags.writeable = False
    return out


def record_steps(spec: Any, steps: int, points: int = 200, name: str = "record") -> np.ndarray:
    """The sorted step indices to record for a run of `steps` steps (state indices 0..steps).

    spec:
      "log" (default): about `points` log-spaced indices;
      "all": every step;
      an int k: every k-th step;
      a sequence of ints: exactly those (must lie in [0, steps]).
    Step 0 and the last step are always included.
    """
    if isinstance(spec, str):
        if spec == "log":
            if steps <= points:
                return np.arange(steps + 1, dtype=np.int64)
            else:
                logs: np.ndarray = _log_steps(int(steps), int(points)).copy()
                return logs
        elif spec == "all":
            if steps + 1 > MAX_RECORDED:
                raise ValueError(f"{name}: 'all' of {steps} steps is more than {MAX_RECORDED} records")
            idx = np.arange(steps + 1)
        else:
            raise ValueError(f"{name}: unknown value {spec!r}; expected 'log', 'all', an int or a list of steps")
    elif isinstance(spec, numbers.Integral) and not isinstance(spec, bool):
        if spec < 1:
            raise ValueError(f"{name}: the interval must be >= 1, got {spec}")
        if (steps // int(spec)) + 1 > MAX_RECORDED:
            raise ValueError(f"{name}: every {spec}th of {steps} steps is more than {MAX_RECORDED} records")
        idx = np.arange(0, steps + 1, int(spec))
    else:
        idx = _step_indices(spec, name)
        if idx.size and (idx.min() < 0 or idx.max() > steps):
            raise ValueError(f"{name}: step indices must lie in [0, {steps}]")
    if idx.size > MAX_RECORDED:
        raise ValueError(f"{name}: would record {idx.size} steps, more than {MAX_RECORDED}; record fewer")
    out: np.ndarray = np.unique(np.concatenate([[0, steps], idx])).astype(np.int64)
    return out


def snapshot_steps(spec: Any, steps: int) -> np.ndarray:
    """Steps at which to keep parameter copies: None (none), "log" (~30 log-spaced), an int count of
    log-spaced snapshots, or an explicit list."""
    if spec is None:
        return np.zeros(0, dtype=np.int64)
    if isinstance(spec, str):
        if spec != "log":
            raise ValueError(f"snapshots: unknown value {spec!r}; expected None, 'log', an int or a list of steps")
        return record_steps("log", steps, points=30, name="snapshots")
    if isinstance(spec, numbers.Integral) and not isinstance(spec, bool):
        if spec < 2:
            raise ValueError(f"snapshots: need at least 2 snapshots, got {spec}")
        return record_steps("log", steps, points=int(spec), name="snapshots")
    return record_steps(spec, steps, name="snapshots")


@dataclass
class Run:
    """What `wf.train` returns.

    Attributes
    ----------
    steps : recorded step indices (always 0 and the last step reached)
    t : flow time at each recorded step, t_k = sum_{s < k} eta_s (gradient descent) or the integration time
    loss : loss 1/2 sum (f(x_j) - y_j)^2 at each recorded step
    metrics : extra per-record arrays (model dependent: layer norms, singular values, ...)
    snapshots : list of (step, {name: array copy}) parameter snapshots
    status : "completed", "diverged" (loss or parameters became non-finite), "interrupted" (Ctrl-C) or
        "failed" (the step-size schedule failed; the run is then `ScheduleError.run`)
    diverged_at : GD: first step whose state was not finite (the model keeps the state one step earlier);
        flow: the number of accepted steps when the step size underflowed
    wall_time : seconds spent training (GD: info["kernel_seconds"] of them inside the C++ chunk calls)
    """

    steps: np.ndarray
    t: np.ndarray
    loss: np.ndarray
    metrics: dict[str, Any] = field(default_factory=dict)
    snapshots: list[tuple[Any, dict[str, Any]]] = field(default_factory=list)
    status: str = "completed"
    diverged_at: int | None = None
    wall_time: float = 0.0
    method: str = "gd"
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def final_loss(self) -> float:
        return float(self.loss[-1])

    @property
    def final_step(self) -> int:
        return int(self.steps[-1])

    def __repr__(self) -> str:
        extra = f", diverged_at={self.diverged_at}" if self.diverged_at is not None else ""
        return (
            f"Run(method={self.method!r}, status={self.status!r}, steps={self.final_step}, "
            f"final_loss={self.final_loss:.6g}, wall_time={self.wall_time:.3g}s{extra})"
        )
