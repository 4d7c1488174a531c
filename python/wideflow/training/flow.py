"""The gradient-flow driver shared by every model family.

A model provides a flow engine (`wideflow.base.FlowEngine`, importable from here too) whose `integrate` advances an adaptive Runge-Kutta pair
over the model's fused gradient kernel by a bounded number of accepted steps. `run_flow` calls it towards
each recorded flow time, in chunks of about `chunk_seconds`, so that between chunks it can record, take
snapshots, update a progress bar and notice Ctrl-C. A step size that underflows or is not finite ends the
run as "diverged" with the reason in the `DivergenceWarning`.
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np

from ..base import FlowEngine
from ..errors import DivergenceWarning, InterruptedWarning
from .interrupt import Interrupt
from .progress import progress_bar
from .recording import Run

__all__ = ["run_flow", "record_times", "FlowEngine"]


def record_times(spec: Any, t_end: float, points: int) -> np.ndarray:
    """Flow times to record: "log" (about `points` log-spaced times in [t_end * 1e-4, t_end]), or a list
    of times in [0, t_end]. 0 and t_end are always included."""
    if isinstance(spec, str):
        if spec != "log":
            raise ValueError(f"record: unknown value {spec!r} for method='flow'; expected 'log' or a list of times")
        ts = np.geomspace(t_end * 1e-4, t_end, points) if t_end * 1e-4 > 0 else np.array([t_end])
    else:
        try:
            ts = np.asarray(spec, dtype=np.float64).ravel()
        except (TypeError, ValueError) as exc:
            raise TypeError("record: expected 'log' or a list of flow times") from exc
        if ts.size and (not np.all(np.isfinite(ts)) or ts.min() < 0 or ts.max() > t_end):
            raise ValueError(f"record: flow times must lie in [0, {t_end}]")
    return np.unique(np.concatenate([[0.0, t_end], ts]))


# An engine call may end without an accepted step (its rejections or its wall-time bound), keeping its
# reduced step size for the next call; this many such calls in a row end the run (nothing can hang).
STALLED_CALLS = 100


def run_flow(
    engine: FlowEngine,
    t_end: float,
    *,
    rtol: float,
    atol: float,
    record: Any = "log",
    record_points: int = 200,
    snapshots: Any = None,
    progress: bool | None = None,
    chunk_seconds: float = 0.2,
    desc: str = "flow",
) -> Run:
    """Gradient flow up to flow time `t_end`, recording at the times `record` asks for (see the module
    docstring); `snapshots`: None, "log" or a list of flow times."""
    times = record_times(record, t_end, record_points)
    if snapshots is None:
        snap_t = np.zeros(0)
    elif isinstance(snapshots, str):
        if snapshots != "log":
            raise ValueError(f"snapshots: unknown value {snapshots!r}; expected None, 'log' or a list of times")
        snap_t = record_times("log", t_end, 30)
    else:
        try:
            snap_t = np.unique(np.asarray(snapshots, dtype=np.float64).ravel())
        except (TypeError, ValueError) as exc:
            raise TypeError("snapshots: expected None, 'log' or a list of flow times") from exc
        if snap_t.size and (not np.all(np.isfinite(snap_t)) or snap_t.min() < 0 or snap_t.max() > t_end):
            raise ValueError(f"snapshots: flow times must lie in [0, {t_end}]")
    # an engine with dense records writes the losses at `times` from its steps' continuous extension (no
    # step ends at a record time); the others end a step at each record time
    dense = bool(getattr(engine, "dense_records", False)) and not engine.has_metrics
    if dense:
        engine.set_records(times)  # type: ignore[attr-defined]
    stops = np.union1d(snap_t, [0.0, t_end]) if dense else np.union1d(times, snap_t)
    rec_t: list[float] = []
    rec_loss: list[float] = []
    rec_steps: list[int] = []
    metrics: dict[str, list[Any]] = {}
    snap_list: list[tuple[float, dict[str, Any]]] = []
    status = "completed"
    start = time.perf_counter()
    accepted = 0

    def record_state(t: float) -> None:
        rec_t.append(t)
        rec_loss.append(engine.loss())
        rec_steps.append(accepted)
        if engine.has_metrics:
            engine.sync()
            for name, val in engine.metrics().items():
                metrics.setdefault(name, []).append(val)

    def at_time(t: float) -> None:
        if not dense and np.any(times == t):
            record_state(t)
        if np.any(snap_t == t):
            engine.sync()
            snap_list.append((t, engine.snapshot()))

    at_time(0.0)
    stall_reason = ""
    bar = progress_bar(progress, 1, desc)
    chunk = 4
    reached_t = 0.0
    try:
        with Interrupt() as intr:
            for t_stop in stops[1:]:
                failed = False
                stalled = 0
                while True:
                    if intr.hit:
                        status = "interrupted"
                        break
                    t_out = np.empty(chunk)
                    loss_out = np.empty(chunk)
                    tick = time.perf_counter()
                    steps, reached, failed = engine.integrate(float(t_stop), rtol, atol, chunk, t_out, loss_out)
                    elapsed = time.perf_counter() - tick
                    accepted += steps
                    if steps:
                        reached_t = float(t_out[steps - 1])
                    if bar is not None:
                        bar.n = round(reached_t / t_end, 4)
                        bar.set_postfix(t=f"{reached_t:.3g}", refresh=False)
                        bar.refresh()
                    per_step = elapsed / max(steps, 1)
                    chunk = int(max(1, min(chunk * 4, chunk_seconds / max(per_step, 1e-9))))
                    if reached or failed:
                        break
                    stalled = 0 if steps else stalled + 1
                    if stalled >= STALLED_CALLS:  # an engine that returns without a step, again and again
                        failed, stall_reason = (
                            True,
                            (f"the integrator made no step in {STALLED_CALLS} calls at t = {reached_t:.6g}"),
                        )
                        break
                if status == "interrupted" or failed:
                    if failed:  # "diverged", or an engine's own reason ("zeno")
                        status = (
                            "diverged"
                            if stall_reason or not hasattr(engine, "failure_status")
                            else engine.failure_status()
                        )
                    break
                at_time(float(t_stop))
    finally:  # even a second Ctrl-C leaves the model holding the state reached
        if bar is not None:
            bar.close()
        engine.sync()
    if dense:
        rt, rl, rs = engine.records()  # type: ignore[attr-defined]
        rec_t, rec_loss, rec_steps = list(rt), list(rl), list(rs)
        if not rec_t:
            record_state(0.0)
    if status != "completed":
        if rec_t[-1] != reached_t:  # the state reached (last accepted step) ends the record
            record_state(reached_t)
        what = (
            (stall_reason or engine.failure() or "the step size underflowed (stiff or divergent flow)")
            if status != "interrupted"
            else "interrupted"
        )
        warnings.warn(
            f"train: flow stopped at t = {reached_t:.6g} after {accepted} steps ({what}); the model holds that state",
            DivergenceWarning if status != "interrupted" else InterruptedWarning,
            stacklevel=3,
        )
    out_metrics = {k: np.asarray(v) for k, v in metrics.items()}
    for name, val in engine.loss_metrics(np.asarray(rec_loss)).items():
        out_metrics.setdefault(name, val)
    run = Run(
        steps=np.asarray(rec_steps, dtype=np.int64),
        t=np.asarray(rec_t, dtype=np.float64),
        loss=np.asarray(rec_loss),
        metrics=out_metrics,
        snapshots=snap_list,
        status=status,
        wall_time=time.perf_counter() - start,
        method="flow",
        diverged_at=accepted if status in ("diverged", "zeno") else None,
    )
    run.info.update(engine.counters(), rtol=rtol, atol=atol, t_end=t_end)
    if status in ("diverged", "zeno"):
        run.info["error"] = stall_reason or engine.failure()
    return run
