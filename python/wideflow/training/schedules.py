"""Step-size schedules for gradient descent.

A schedule maps the step index t = 0, 1, 2, ... to a step size eta_t > 0. `wf.train(..., lr=...)` takes a
number (constant step), any schedule below, or any Python callable of the step index.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._validate import positive_float


class Schedule:
    """Base class: subclasses implement `values(start, stop)` (vectorized) and describe themselves."""

    def values(self, start: int, stop: int) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def __call__(self, t: int) -> float:
        return float(self.values(int(t), int(t) + 1)[0])


@dataclass(frozen=True)
class Constant(Schedule):
    """eta_t = eta."""

    eta: float

    def values(self, start: int, stop: int) -> np.ndarray:
        return np.full(stop - start, self.eta)


@dataclass(frozen=True)
class InversePower(Schedule):
    """eta_t = eta0 / (1 + t / t0)^power.

    With t0 = 1 this is eta0 / (t + 1)^power, the decaying schedule of Du, Hu & Lee (2018), who take
    power = 1/2 + delta with 0 < delta <= 1/2 (sum eta_t^2 finite, sum eta_t infinite).
    """

    eta0: float
    power: float
    t0: float = 1.0

    def values(self, start: int, stop: int) -> np.ndarray:
        t = np.arange(start, stop, dtype=np.float64)
        out: np.ndarray = self.eta0 / (1.0 + t / self.t0) ** self.power
        return out


@dataclass(frozen=True)
class FromCallable(Schedule):
    """eta_t = fn(t) for a user callable, evaluated once per step."""

    fn: Callable[[int], Any]

    def values(self, start: int, stop: int) -> np.ndarray:
        return np.array([float(self.fn(t)) for t in range(start, stop)], dtype=np.float64)


def constant(eta: float) -> Constant:
    """Constant step size eta > 0."""
    return Constant(positive_float("eta", eta))


def inverse_power(eta0: float, power: float, t0: float = 1.0) -> InversePower:
    """eta_t = eta0 / (1 + t/t0)^power (t0 = 1: eta0/(t+1)^power)."""
    return InversePower(
        positive_float("eta0", eta0), positive_float("power", power, allow_zero=True), positive_float("t0", t0)
    )


def as_schedule(lr: Any) -> Schedule:
    """Turn the `lr` argument of `train` into a Schedule, or raise naming `lr`."""
    if isinstance(lr, Schedule):
        return lr
    if callable(lr):
        return FromCallable(lr)
    if lr is None:
        raise TypeError("lr: a step size is required (a positive number, a schedule or a callable)")
    return Constant(positive_float("lr", lr))


def checked_values(schedule: Schedule, start: int, stop: int) -> np.ndarray:
    """Step sizes for steps [start, stop), verified positive and finite."""
    if type(schedule) is Constant and 0 < schedule.eta < float("inf"):  # scalar check only
        return np.full(stop - start, float(schedule.eta))
    vals = np.ascontiguousarray(schedule.values(start, stop), dtype=np.float64)
    bad = ~(np.isfinite(vals) & (vals > 0))
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise ValueError(f"lr: the schedule gave {vals[k]} at step {start + k}; step sizes must be > 0 and finite")
    return vals


def valid_prefix(schedule: Schedule, start: int, stop: int) -> tuple[np.ndarray, Exception | None]:
    """(values, error): the step sizes for steps [start, k) where k is the first step whose value is not
    positive and finite or whose evaluation raised, and that problem as an exception (None if every step
    in [start, stop) is fine, then k = stop)."""
    try:
        return checked_values(schedule, start, stop), None
    except Exception:
        pass
    vals: list[float] = []
    for t in range(start, stop):
        try:
            vals.append(float(checked_values(schedule, t, t + 1)[0]))
        except ValueError as exc:
            if str(exc).startswith("lr: the schedule gave"):
                return np.asarray(vals, dtype=np.float64), exc
            return np.asarray(vals, dtype=np.float64), _raised(exc, t)
        except Exception as exc:
            return np.asarray(vals, dtype=np.float64), _raised(exc, t)
    return np.asarray(vals, dtype=np.float64), None


def _raised(exc: Exception, step: int) -> Exception:
    err = ValueError(f"lr: the schedule raised {type(exc).__name__} at step {step}: {exc}")
    err.__cause__ = exc
    return err
