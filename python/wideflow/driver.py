"""The gradient-descent driver shared by every model family.

A model provides an *engine* (see `Engine`) whose `run` executes a bounded chunk of fused GD steps in C++.
This loop calls it chunk after chunk, sized to take about `chunk_seconds` each, so that between chunks it
can record, take snapshots, update a progress bar, notice Ctrl-C, and handle divergence:

* the loss of every step comes back from C++, and the steps chosen by `record` are kept;
* a chunk whose loss or parameters become non-finite is replayed from a checkpoint (the kernels are
  deterministic) up to the last finite state, which the model keeps; the run says at which step it broke;
* Ctrl-C ends the run after the chunk in progress, with everything so far recorded;
* a schedule that fails at step k (a value that is not positive and finite, or an exception) ends the
  run at step k: the model holds that state and the `ScheduleError` raised carries the record (`.run`).
"""

from __future__ import annotations

import signal
import sys
import threading
import time
import warnings

import numpy as np

from .errors import DivergenceWarning, ScheduleError
from .recording import Run, record_steps, snapshot_steps
from .schedules import Schedule, valid_prefix


class Engine:
    """Protocol of a model's GD engine (subclass and override)."""

    has_metrics = False  # whether metrics() is worth a chunk break at every recorded step

    def loss(self) -> float:
        raise NotImplementedError

    def run(self, lrs: np.ndarray, losses: np.ndarray) -> tuple[int, bool]:
        """Run len(lrs) steps; losses[s] = loss at the start of step s. Returns (steps_done, diverged)
        with the convention of the C++ kernels: if diverged, the state `steps_done` steps after the
        chunk start is the first non-finite one."""
        raise NotImplementedError

    def checkpoint(self):
        raise NotImplementedError

    def restore(self, ck) -> None:
        raise NotImplementedError

    def snapshot(self) -> dict:
        raise NotImplementedError

    def metrics(self) -> dict:
        return {}

    def finish(self) -> None:
        """Called once when the run ends (e.g. to write state back to the model)."""


class _Interrupt:
    """Turns SIGINT into a flag while a run is in progress (main thread only)."""

    def __init__(self):
        self.hit = False
        self._old = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            try:
                self._old = signal.signal(signal.SIGINT, self._handler)
            except ValueError:  # pragma: no cover - embedded interpreters
                self._old = None
        return self

    def _handler(self, signum, frame):
        if self.hit:  # second Ctrl-C: behave as before (the drivers still write the state back)
            if callable(self._old):
                self._old(signum, frame)
            elif self._old != signal.SIG_IGN:
                raise KeyboardInterrupt
        self.hit = True

    def __exit__(self, *exc):
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)
        return False


def _progress_bar(progress, total: int, desc: str):
    enabled = sys.stderr.isatty() if progress is None else bool(progress)
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="step", unit_scale=True, leave=False, mininterval=0.5)


def run_gd(engine: Engine, schedule: Schedule, steps: int, *, record="log", record_points: int = 200,
           snapshots=None, progress=None, keep_finite: bool = True, chunk_seconds: float = 0.2,
           desc: str = "train") -> Run:
    rec = record_steps(record, steps, record_points)
    snaps = snapshot_steps(snapshots, steps)
    stops = np.union1d(snaps, rec if engine.has_metrics else np.zeros(0, dtype=np.int64))
    rec_loss = np.full(rec.size, np.nan)
    rec_t = np.full(rec.size, np.nan)
    metrics: dict[str, list] = {}
    snap_list: list = []
    status, diverged_at = "completed", None

    def at_state(step: int, loss: float, t: float) -> None:
        k = np.searchsorted(rec, step)
        if k < rec.size and rec[k] == step:
            rec_loss[k], rec_t[k] = loss, t
            if engine.has_metrics:
                for name, val in engine.metrics().items():
                    metrics.setdefault(name, []).append((step, val))
        k = np.searchsorted(snaps, step)
        if k < snaps.size and snaps[k] == step:
            snap_list.append((step, engine.snapshot()))

    def end_at(step: int, loss: float, t: float):
        """Truncate the record at `step`, where the run ended early, and make sure that state is in it."""
        keep = rec <= step
        r, rl, rt = rec[keep], rec_loss[keep], rec_t[keep]
        if r[-1] != step:
            r, rl, rt = np.append(r, step), np.append(rl, loss), np.append(rt, t)
        if engine.has_metrics and not any(pairs and pairs[-1][0] == step for pairs in metrics.values()):
            for name, val in engine.metrics().items():  # the state the run ended in has its metrics too
                metrics.setdefault(name, []).append((step, val))
        return r, rl, rt

    start_time = time.perf_counter()
    step, t_flow = 0, 0.0
    loss0 = engine.loss()
    at_state(0, loss0, 0.0)
    if not np.isfinite(loss0):
        status, diverged_at = "diverged", 0
        warnings.warn("train: the initial loss is not finite; nothing was trained", DivergenceWarning, stacklevel=3)
        steps = 0
        rec, rec_loss, rec_t = rec[:1], rec_loss[:1], rec_t[:1]
    bar = _progress_bar(progress, steps, desc)
    chunk = 1
    sched_error = None
    try:
        with _Interrupt() as intr:
            while step < steps:
                if intr.hit:
                    status = "interrupted"
                    break
                k = np.searchsorted(stops, step, side="right")
                stop = min(steps, step + chunk, int(stops[k]) if k < stops.size else steps)
                lrs, sched_error = valid_prefix(schedule, step, stop)
                if sched_error is not None:  # run up to the failing step, then stop there
                    if lrs.size == 0:
                        break
                    stop = step + lrs.size
                ck = engine.checkpoint() if keep_finite else None
                buf = np.empty(stop - step)
                tick = time.perf_counter()
                done, diverged = engine.run(lrs, buf)
                elapsed = time.perf_counter() - tick
                end_loss = np.nan if diverged else engine.loss()
                if not diverged and not np.isfinite(end_loss):
                    diverged, done = True, stop - step
                tcum = t_flow + np.concatenate([[0.0], np.cumsum(lrs)])
                # losses of the states step .. step+done-1 (all finite)
                lo, hi = np.searchsorted(rec, [step, step + done])
                for k in range(lo, hi):
                    if rec[k] != step:  # the chunk's first state was recorded at the end of the last chunk
                        rec_loss[k], rec_t[k] = buf[rec[k] - step], tcum[rec[k] - step]
                if diverged:
                    diverged_at = step + done
                    last_good = diverged_at - 1
                    rolled_back = keep_finite and last_good >= step
                    if rolled_back:
                        engine.restore(ck)
                        if last_good > step:
                            replay = np.empty(last_good - step)
                            engine.run(lrs[: last_good - step], replay)
                        final_loss, t_flow = engine.loss(), tcum[last_good - step]
                    else:
                        last_good, final_loss, t_flow = diverged_at, np.nan, tcum[done]
                    status, step = "diverged", last_good
                    rec, rec_loss, rec_t = end_at(step, final_loss, t_flow)
                    held = (f"the model keeps the last finite state, step {step}" if rolled_back else
                            "the model holds that non-finite state" + ("" if keep_finite else " (keep_finite=False)"))
                    warnings.warn(f"train: the run diverged at step {diverged_at} (non-finite loss or parameters); "
                                  f"{held}", DivergenceWarning, stacklevel=3)
                    sched_error = None  # the divergence came first
                    break
                step, t_flow = stop, tcum[-1]
                at_state(step, end_loss, t_flow)
                if bar is not None:
                    bar.update(len(lrs))
                    bar.set_postfix(loss=f"{end_loss:.3e}", refresh=False)
                # next chunk: aim at chunk_seconds, grow at most 4x at a time
                per_step = elapsed / max(len(lrs), 1)
                want = int(chunk_seconds / per_step) if per_step > 0 else chunk * 4
                chunk = max(1, min(chunk * 4, want))
                if sched_error is not None:
                    break
    finally:  # a second Ctrl-C still closes the bar and hands the state to the model
        if bar is not None:
            bar.close()
        engine.finish()
    if sched_error is not None:
        status = "failed"
        rec, rec_loss, rec_t = end_at(step, engine.loss(), t_flow)
    if status == "interrupted":
        rec, rec_loss, rec_t = end_at(step, engine.loss(), t_flow)
        warnings.warn(f"train: interrupted at step {step}; the model holds that state", RuntimeWarning,
                      stacklevel=3)
    out_metrics = {}
    for name, pairs in metrics.items():
        keep = [v for s, v in pairs if s <= step]
        out_metrics[name] = np.asarray(keep)
    run = Run(steps=rec, t=rec_t, loss=rec_loss, metrics=out_metrics, snapshots=snap_list, status=status,
              diverged_at=diverged_at, wall_time=time.perf_counter() - start_time, method="gd")
    if sched_error is not None:
        run.info["error"] = str(sched_error)
        raise ScheduleError(f"{sched_error}; the run stopped at step {step} and the model holds that state "
                            "(the record so far is this exception's .run)", run) from (sched_error.__cause__
                                                                                       or sched_error)
    return run


# ---------------------------------------------------------------------------------------------- flow
class FlowEngine:
    """Protocol of a model's gradient-flow engine: `self.flow` is the C++ flow-run object (adaptive
    Runge-Kutta over the model's fused gradient kernel); subclasses add sync/snapshot/metrics."""

    has_metrics = False
    flow = None

    def integrate(self, t_stop, rtol, atol, max_steps, t_out, loss_out):
        """Integrate towards t_stop with at most max_steps accepted steps; returns (steps, reached, failed)
        and writes the time and loss after each accepted step."""
        steps, reached, failed = self.flow.integrate(t_stop, rtol, atol, max_steps, t_out, loss_out)
        return int(steps), bool(reached), bool(failed)

    def loss(self) -> float:
        return float(self.flow.loss())

    def sync(self) -> None:
        """Write the integrator's state back into the model's arrays."""

    def snapshot(self) -> dict:
        raise NotImplementedError

    def metrics(self) -> dict:
        return {}

    def failure(self) -> str:
        """Why the integrator stopped a run (empty if it did not)."""
        return str(getattr(self.flow, "failure", ""))

    def counters(self) -> dict:
        f = self.flow
        return {"accepted": int(f.accepted), "rejected": int(f.rejected), "gradient_evals": int(f.evals)}


def record_times(spec, t_end: float, points: int) -> np.ndarray:
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


def run_flow(engine: FlowEngine, t_end: float, *, rtol: float, atol: float, record="log",
             record_points: int = 200, snapshots=None, progress=None, chunk_seconds: float = 0.2,
             desc: str = "flow") -> Run:
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
    stops = np.union1d(times, snap_t)
    rec_t, rec_loss, rec_steps, metrics, snap_list = [], [], [], {}, []
    status = "completed"
    start = time.perf_counter()
    accepted = 0

    def record_state(t):
        rec_t.append(t)
        rec_loss.append(engine.loss())
        rec_steps.append(accepted)
        if engine.has_metrics:
            engine.sync()
            for name, val in engine.metrics().items():
                metrics.setdefault(name, []).append(val)

    def at_time(t):
        if np.any(times == t):
            record_state(t)
        if np.any(snap_t == t):
            engine.sync()
            snap_list.append((t, engine.snapshot()))

    at_time(0.0)
    bar = _progress_bar(progress, 1, desc)
    chunk = 4
    reached_t = 0.0
    try:
        with _Interrupt() as intr:
            for t_stop in stops[1:]:
                failed = False
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
                if status == "interrupted" or failed:
                    if failed:
                        status = "diverged"
                    break
                at_time(float(t_stop))
    finally:  # even a second Ctrl-C leaves the model holding the state reached
        if bar is not None:
            bar.close()
        engine.sync()
    if status != "completed":
        if rec_t[-1] != reached_t:  # the state reached (last accepted step) ends the record
            record_state(reached_t)
        what = ((engine.failure() or "the step size underflowed (stiff or divergent flow)") if status == "diverged"
                else "interrupted")
        warnings.warn(f"train: flow stopped at t = {reached_t:.6g} after {accepted} steps ({what}); the model "
                      "holds that state", DivergenceWarning if status == "diverged" else RuntimeWarning,
                      stacklevel=3)
    run = Run(steps=np.asarray(rec_steps, dtype=np.int64), t=np.asarray(rec_t, dtype=np.float64),
              loss=np.asarray(rec_loss), metrics={k: np.asarray(v) for k, v in metrics.items()},
              snapshots=snap_list, status=status, wall_time=time.perf_counter() - start, method="flow",
              diverged_at=accepted if status == "diverged" else None)
    run.info.update(engine.counters(), rtol=rtol, atol=atol, t_end=t_end)
    return run
