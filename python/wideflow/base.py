"""The model <-> driver contract: what a model family provides so that `wf.train` can train it.

Three roles, written down here once and used by every family (`ShallowReLU`, `DeepNet`, `Factorization`,
`OneLayer`, the factorization batch behind `wf.train_batch`) and by the one pair of drivers
(`wideflow.training.gd.run_gd`, `wideflow.training.flow.run_flow`):

* `Model`: the user's object. It holds its parameters in NumPy arrays and builds an engine for a run:
  ``model._gd_engine(data, options)`` and ``model._flow_engine(data, options)`` (underscored: they are the
  driver's hooks, not user API). ``data`` is the tuple of positional data arguments of `wf.train`;
  ``options`` the dict of its model options, from which the hook pops what it understands (the driver
  refuses what is left). A family without gradient flow simply does not override `_flow_engine`.
* `GDEngine`: one gradient-descent run of a model. ``run(lrs, losses)`` takes a bounded chunk of fused
  steps (in C++, or NumPy for a toy family) in place on the model's arrays.
* `FlowEngine`: one gradient-flow run. ``integrate(...)`` advances an adaptive Runge-Kutta pair (or a
  closed form) by a bounded number of accepted steps towards a stop time.

The helpers below are the pieces every family needs and that exist only here: the float32/float64
choice of a constructor (`infer_dtype`), the choice of a kernel class by dtype (`by_dtype`), the check of
the data arguments (`data_args`) and the `metrics=` option (`metrics_option`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Any, TypeVar

import numpy as np

from ._validate import dtype_of

__all__ = ["Model", "GDEngine", "FlowEngine", "infer_dtype", "by_dtype", "data_args", "metrics_option"]

T = TypeVar("T")


# ---------------------------------------------------------------------------------------------- engines
class GDEngine(ABC):
    """A gradient-descent run of one model, driven chunk by chunk by `run_gd`.

    Implement `loss`, `run` and `snapshot`; the rest has defaults. Costs the driver relies on: `run`
    returns the loss of every step it takes (from the fused kernel), `loss` may cost a forward pass and is
    called once at the end of a run (and at each checkpoint).

    Divergence safety (``keep_finite=True``, the default of `wf.train`) takes one of three forms, chosen
    by the engine: `certify` proves the next steps finite before they run; or the kernel itself keeps
    the last finite state (`keeps_finite` = True; the driver sets `keep_finite` on the engine); or the
    driver keeps a `checkpoint` on a time budget and replays from it (`restore`, then `run`) up to the
    last finite state. The replay must give the same bits as the first pass (deterministic kernels).
    """

    has_metrics: bool = False  # metrics() is asked for: the driver ends a chunk at every recorded step
    keeps_finite: bool = False  # the kernel itself hands back the last finite state when a run diverges
    keep_finite: bool = True  # set by the driver on an engine with keeps_finite

    @abstractmethod
    def loss(self) -> float:
        """The loss 1/2 sum of squared residuals of the current state (float; NaN/inf if not finite). It must
        be the kernel's own value (same reduction order as the losses `run` returns)."""

    @abstractmethod
    def run(self, lrs: np.ndarray, losses: np.ndarray) -> tuple[int, bool]:
        """Take len(lrs) GD steps with step sizes `lrs`, writing losses[s] = loss at the start of step s.

        Returns (steps_done, diverged) with the convention of the C++ kernels: if diverged, the state
        `steps_done` steps after the chunk start is the first non-finite one (with `keeps_finite` the
        engine holds the one before it); else steps_done == len(lrs).
        """

    @abstractmethod
    def snapshot(self) -> dict[str, Any]:
        """Copies of the parameters, {name: array} (kept by `wf.train(..., snapshots=...)`)."""

    def certify(self, lrs: np.ndarray) -> int | None:
        """How many of the steps `lrs` are proven finite before they run (None: no such proof here)."""
        return None

    def advanced(self, lrs: np.ndarray, losses: np.ndarray) -> None:
        """Called after `run` completed the steps `lrs` whose starting losses are `losses`."""
        return None

    def step_seconds_hint(self) -> float | None:
        """A guess of the seconds per step (sizes the first chunk); None: start with one step."""
        return None

    def checkpoint_nbytes(self) -> int:
        """Bytes of one checkpoint (above the driver's budget it keeps none and says so on divergence)."""
        return 0

    def checkpoint(self, into: Any = None) -> Any:
        """A copy of the state that `restore` accepts (written into `into`, a previous checkpoint, when
        given). Default: a `snapshot`."""
        return self.snapshot()

    def restore(self, ck: Any) -> None:
        """Put the state of checkpoint `ck` back into the model (needed unless `keeps_finite` or `certify`
        covers every step)."""
        raise NotImplementedError(f"{type(self).__name__}: restore() is needed for the driver's rollback")

    def metrics(self) -> dict[str, Any]:
        """Per-record diagnostics of the current state (only when asked for: each costs a chunk break and
        its own work)."""
        return {}

    def loss_metrics(self, losses: np.ndarray) -> dict[str, Any]:
        """Diagnostics that follow from the recorded losses alone (free; always returned)."""
        return {}

    def finish(self) -> None:
        """Called once when the run ends, even on Ctrl-C (e.g. to write state back to the model)."""
        return None


class FlowEngine(ABC):
    """A gradient-flow run of one model, driven by `run_flow`.

    `self.flow` is the integrator: an object with ``integrate(t_stop, rtol, atol, max_steps, t_out,
    loss_out) -> (steps, reached, failed)``, ``loss()``, and the counters ``accepted``, ``rejected``,
    ``evals`` (and optionally ``failure``, a reason string) - the C++ flow-run objects, or a closed form
    with the same interface. Implement `snapshot` (and `sync` when the integrator owns the state); the
    other methods delegate to `self.flow`. The method names (integrate, loss, sync, snapshot, metrics,
    loss_metrics, failure, counters) are the stable contract.
    """

    has_metrics: bool = False
    flow: Any = None

    def integrate(
        self, t_stop: float, rtol: float, atol: float, max_steps: int, t_out: np.ndarray, loss_out: np.ndarray
    ) -> tuple[int, bool, bool]:
        """Integrate towards `t_stop` with at most `max_steps` accepted steps, writing the time and loss after
        each accepted step into t_out / loss_out. Returns (steps, reached, failed); a C++ call returns
        within about a second (so Ctrl-C is noticed)."""
        steps, reached, failed = self.flow.integrate(t_stop, rtol, atol, max_steps, t_out, loss_out)
        return int(steps), bool(reached), bool(failed)

    def loss(self) -> float:
        """The loss of the integrator's current state."""
        return float(self.flow.loss())

    def sync(self) -> None:
        """Write the integrator's state back into the model's arrays (before snapshots, metrics, the end)."""
        return None

    @abstractmethod
    def snapshot(self) -> dict[str, Any]:
        """Copies of the parameters, {name: array} (called after `sync`)."""

    def metrics(self) -> dict[str, Any]:
        """Per-record diagnostics of the current (synced) state, when asked for."""
        return {}

    def loss_metrics(self, losses: np.ndarray) -> dict[str, Any]:
        """Diagnostics that follow from the recorded losses alone (free; always returned)."""
        return {}

    def failure(self) -> str:
        """Why the integrator stopped a run (empty if it did not)."""
        return str(getattr(self.flow, "failure", ""))

    def counters(self) -> dict[str, Any]:
        """Accepted and rejected steps and gradient evaluations so far (for run.info)."""
        f = self.flow
        return {"accepted": int(f.accepted), "rejected": int(f.rejected), "gradient_evals": int(f.evals)}


# ---------------------------------------------------------------------------------------------- model
class Model(ABC):
    """A model family that `wf.train` can train: parameters in NumPy arrays, updated in place.

    A family subclasses `Model`, implements `state` and `_gd_engine`, and overrides `_flow_engine` if it has
    a gradient flow. `wf.train(model, *data, ...)` refuses an object that is not a `Model`, and a
    ``method="flow"`` run of a family that has no flow, naming the type.
    """

    @abstractmethod
    def state(self) -> dict[str, Any]:
        """Copies of the parameters, {name: array}."""

    def _gd_engine(self, data: tuple[Any, ...], options: dict[str, Any]) -> GDEngine:
        """A `GDEngine` for a gradient-descent run on `data`; pops the options it understands."""
        raise TypeError(f"model: {type(self).__name__} does not support gradient descent (method='gd')")

    def _flow_engine(self, data: tuple[Any, ...], options: dict[str, Any]) -> FlowEngine:
        """A `FlowEngine` for a gradient-flow run on `data`; pops the options it understands (and "tableau")."""
        raise TypeError(f"model: {type(self).__name__} has no gradient flow (method='flow'); train it with method='gd'")

    def loss(self, *data: Any, **options: Any) -> float:
        """The training loss 1/2 sum of squared residuals on `data`, exactly as `wf.train` computes it: the
        value of a fresh GD engine (the family's own kernel), with the same options (e.g. ``train=``).
        A family may override it with a direct computation that agrees to rounding (DeepNet, Factorization)."""
        engine = self._gd_engine(data, dict(options))
        try:
            return float(engine.loss())
        finally:
            engine.finish()

    @classmethod
    def supports(cls, method: str) -> bool:
        """Whether the family has an engine for `method` ("gd" or "flow")."""
        hook = {"gd": "_gd_engine", "flow": "_flow_engine"}[method]
        return bool(getattr(cls, hook) is not getattr(Model, hook))


# ---------------------------------------------------------------------------------------------- helpers
def _all_float32(values: Any) -> bool:
    """Whether `values` is a float32 array, or a non-empty sequence of float32 arrays (a batch)."""
    if isinstance(values, np.ndarray):
        return bool(values.dtype == np.float32)
    if isinstance(values, (list, tuple)):
        return len(values) > 0 and all(isinstance(v, np.ndarray) and v.dtype == np.float32 for v in values)
    return False


def infer_dtype(dtype: Any, *arrays: Any) -> np.dtype:
    """The dtype of a model built from `arrays`: `dtype` if given ("float64", "float32", a NumPy dtype),
    else float32 when every array is a float32 NumPy array (or a list of them), else float64."""
    if dtype is None:
        dtype = np.float32 if arrays and all(_all_float32(a) for a in arrays) else np.float64
    return dtype_of(dtype)


def by_dtype(dtype: Any, float64: T, float32: T) -> T:
    """The float64 or the float32 variant of a kernel class (or of anything) for `dtype`."""
    return float32 if np.dtype(dtype) == np.float32 else float64


def data_args(model: object, data: tuple[Any, ...], names: Iterable[str]) -> tuple[Any, ...]:
    """Check the number of positional data arguments of `wf.train` for `model` (a model or its family's
    name): a TypeError names the family and what it is trained on, e.g. "a ShallowReLU is trained on (x, y)"."""
    names = tuple(names)
    if len(data) != len(names):
        family = model if isinstance(model, str) else type(model).__name__
        what = names[0] if len(names) == 1 else f"({', '.join(names)})"
        article = "an" if family[0] in "AEIOU" else "a"
        raise TypeError(f"train: {article} {family} is trained on {what}; got {len(data)} data arguments")
    return data


def metrics_option(value: Any, available: tuple[str, ...], model: str) -> tuple[str, ...]:
    """The `metrics=` option of `wf.train`: False or None (the default: only the diagnostics that follow
    from the recorded losses, which are free), True (every diagnostic of the model), or a list of names
    from `available`. Each diagnostic asked for costs a chunk break at every recorded step plus its own
    work there (listed in the model's docstring)."""
    if value is None or value is False:
        return ()
    if value is True:
        return tuple(available)
    if isinstance(value, str):
        value = (value,)
    try:
        names = tuple(str(v) if isinstance(v, str) else v for v in value)
    except TypeError:
        raise TypeError(f"metrics: expected True, False or a list of names, got {type(value).__name__}") from None
    for name in names:
        if name not in available:
            raise ValueError(
                f"metrics: unknown name {name!r} for {model}; expected some of {', '.join(map(repr, available))}"
            )
    return names
