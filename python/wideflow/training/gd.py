"""The gradient-descent driver shared by every model family.

A model provides an *engine* (`wideflow.base.GDEngine`) whose `run` executes a bounded chunk of fused GD steps in C++.
This loop calls it chunk after chunk, sized to take about `chunk_seconds` each, so that between chunks it
can record, take snapshots, update a progress bar, notice Ctrl-C, and handle divergence:

* the loss of every step comes back from C++, and the steps chosen by `record` are kept (O(1) each: a
  chunk ends at a recorded step only when metrics are asked for, or at a snapshot);
* divergence safety without a copy per chunk: the engine either proves the next steps finite before they
  run (`GDEngine.certify`), or its kernel keeps the last finite state (`GDEngine.keeps_finite`), or the driver
  keeps one checkpoint taken on a time budget and replays from it deterministically up to the last finite
  state, which the model keeps; the run says at which step it broke;
* Ctrl-C ends the run after the chunk in progress, with everything so far recorded;
* a schedule that fails at step k (a value that is not positive and finite, or an exception) ends the
  run at step k: the model holds that state and the `ScheduleError` raised carries the record (`.run`).
"""

from __future__ import annotations

import os
import time
import warnings
from typing import Any

import numpy as np

from ..base import GDEngine
from ..errors import DivergenceWarning, InterruptedWarning, ScheduleError
from .interrupt import Interrupt
from .progress import progress_bar
from .recording import Run, record_steps, snapshot_steps
from .schedules import Schedule, valid_prefix


def _memory_bytes() -> int:
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return 8 << 30


# A rollback checkpoint (one copy of the parameters) is kept only up to this size; above it a run is
# guarded by the engine's certificate alone (ShallowReLU) or not at all (the warning then says so).
CHECKPOINT_MAX_BYTES = max(256 << 20, _memory_bytes() // 4)
# Up to this size a copy is cheap (within the +200 MB of the memory target), and a run whose certificate
# is shorter than its chunk takes one (on the time budget) rather than running shorter chunks.
CHEAP_CHECKPOINT_BYTES = 64 << 20


def _member(sorted_steps: np.ndarray, step: int) -> bool:
    if not sorted_steps.size:
        return False
    k = np.searchsorted(sorted_steps, step)
    return bool(k < sorted_steps.size and sorted_steps[k] == step)


def run_gd(
    engine: GDEngine,
    schedule: Schedule,
    steps: int,
    *,
    record: Any = "log",
    record_points: int = 200,
    snapshots: Any = None,
    progress: bool | None = None,
    keep_finite: bool = True,
    chunk_seconds: float = 0.5,
    checkpoint_seconds: float = 5.0,
    desc: str = "train",
) -> Run:
    """Gradient descent in chunks of fused C++ steps (see the module docstring).

    What a run costs besides the kernel's steps: O(1) per recorded step (the kernel returns every loss);
    a chunk break (a Python round trip, ~10-50 us) only at snapshots and, when metrics are asked for, at
    each recorded step; one `engine.loss()` at the end. Divergence safety (keep_finite) costs either
    nothing (the kernel keeps the last finite state, or the engine certifies the next steps finite before
    they run) or one parameter copy taken on a time budget: at most every `checkpoint_seconds` and never
    more often than 20x the time the copy takes (so at most ~5 % of the run), with a deterministic replay
    from it when a run diverges.
    """
    rec = record_steps(record, steps, record_points)
    snaps = snapshot_steps(snapshots, steps)
    stops = np.union1d(snaps, rec) if engine.has_metrics else snaps
    rec_loss = np.full(rec.size, np.nan)
    rec_t = np.full(rec.size, np.nan)
    metrics: dict[str, list[tuple[int, Any]]] = {}
    snap_list: list[tuple[int, dict[str, Any]]] = []
    status, diverged_at = "completed", None
    start_time = time.perf_counter()

    def at_stop(step: int) -> None:
        """Metrics and snapshots of the state `step` (its loss comes from the next chunk or the end)."""
        if engine.has_metrics and _member(rec, step):
            for name, val in engine.metrics().items():
                metrics.setdefault(name, []).append((step, val))
        if _member(snaps, step):
            snap_list.append((step, engine.snapshot()))

    def end_at(step: int, loss: float, t: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Truncate the record at `step`, where the run ended, and make sure that state is in it."""
        keep = rec <= step
        r, rl, rt = rec[keep], rec_loss[keep], rec_t[keep]
        if r[-1] != step:
            r, rl, rt = np.append(r, step), np.append(rl, np.nan), np.append(rt, np.nan)
        if engine.has_metrics and not any(pairs and pairs[-1][0] == step for pairs in metrics.values()):
            for name, val in engine.metrics().items():  # the state the run ended in has its metrics too
                metrics.setdefault(name, []).append((step, val))
        rl[-1], rt[-1] = loss, t
        return r, rl, rt

    # divergence safety: a certificate (engine.certify), the kernel itself (engine.keeps_finite), or a
    # checkpoint at state ck_step (flow time ck_t) with the step sizes run since (ck_lrs) for the replay
    if engine.keeps_finite:
        engine.keep_finite = bool(keep_finite)
    guard = bool(keep_finite) and not engine.keeps_finite
    can_copy = engine.checkpoint_nbytes() <= CHECKPOINT_MAX_BYTES
    cheap_copy = engine.checkpoint_nbytes() <= CHEAP_CHECKPOINT_BYTES
    ck, ck_step, ck_t, ck_cost, ck_at = None, 0, 0.0, 0.0, 0.0
    ck_lrs: list[np.ndarray] = []
    unguarded_why = ""

    step, t_flow, kernel_seconds = 0, 0.0, 0.0
    est = engine.step_seconds_hint()
    chunk = max(1, min(steps, int(0.05 / est))) if est else 1
    final_loss = np.nan
    sched_error, fail_step = None, steps  # a schedule that fails at step fail_step ends the run there
    at_stop(0)
    bar = progress_bar(progress, steps, desc)
    try:
        with Interrupt() as intr:
            while True:
                if step >= steps:  # the end state: its loss (finite unless the last update overflowed it)
                    final_loss = engine.loss()
                    if np.isfinite(final_loss):
                        break
                    lrs, buf, done, diverged = np.zeros(0), np.array([final_loss]), 0, True
                elif intr.hit:
                    status = "interrupted"
                    break
                else:
                    k = np.searchsorted(stops, step, side="right")
                    stop = min(steps, step + chunk, int(stops[k]) if k < stops.size else steps)
                    lrs, sched_error = valid_prefix(schedule, step, stop)
                    if sched_error is not None:  # run up to the failing step, then stop there
                        fail_step = step + lrs.size
                        if lrs.size == 0:
                            break
                        stop = fail_step
                    done, diverged = 0, False
                    if guard:
                        cert = engine.certify(lrs)
                        if cert is not None and cert >= lrs.size:
                            pass  # none of these steps can diverge: no checkpoint needed
                        elif cert and not (cheap_copy and lrs.size >= 32):  # run the certified steps only
                            lrs, stop = lrs[:cert], step + cert
                        elif not can_copy:
                            unguarded_why = (
                                f"no checkpoint: a copy of the parameters "
                                f"({engine.checkpoint_nbytes() / 2**30:.2f} GiB) exceeds the "
                                f"checkpoint budget ({CHECKPOINT_MAX_BYTES / 2**30:.2f} GiB)"
                            )
                        elif ck is None or time.perf_counter() - ck_at >= max(checkpoint_seconds, 20 * ck_cost):
                            if step > 0 and not np.isfinite(engine.loss()):
                                diverged = True  # state `step` is not finite: roll back to the last checkpoint
                            else:
                                tick = time.perf_counter()
                                ck = engine.checkpoint(into=ck)
                                ck_at = time.perf_counter()
                                ck_cost, ck_step, ck_t, ck_lrs = ck_at - tick, step, t_flow, []
                    if not diverged:
                        buf = np.empty(lrs.size)
                        tick = time.perf_counter()
                        done, diverged = engine.run(lrs, buf)
                        elapsed = time.perf_counter() - tick
                        kernel_seconds += elapsed
                        # losses of the states step .. step+done-1 (all finite)
                        lo, hi = np.searchsorted(rec, [step, step + done])
                        idx = rec[lo:hi] - step
                        rec_loss[lo:hi] = buf[idx]
                        cs = np.cumsum(lrs)
                        rec_t[lo:hi] = t_flow + np.concatenate([[0.0], cs[:done]])[idx]
                if diverged:
                    d = step + done  # the first state that is not finite
                    if d == 0:
                        status, diverged_at, steps = "diverged", 0, 0
                        warnings.warn(
                            "train: the initial loss is not finite; nothing was trained",
                            DivergenceWarning,
                            stacklevel=3,
                        )
                        sched_error = None
                        rec, rec_loss, rec_t = rec[:1], np.array([buf[0]]), rec_t[:1]
                        rec_t[0] = 0.0
                        break
                    status, diverged_at = "diverged", d
                    since = np.concatenate(ck_lrs + [lrs[:done]]) if ck is not None else lrs[:done]
                    if keep_finite and engine.keeps_finite and done >= 1:
                        held, final_loss = d - 1, engine.loss()
                        t_end = t_flow + (float(cs[done - 2]) if done >= 2 else 0.0)
                        rolled_back = True
                    elif keep_finite and ck is not None and ck_step <= d - 1:
                        engine.restore(ck)
                        n_replay = d - 1 - ck_step
                        if n_replay:
                            engine.run(np.ascontiguousarray(since[:n_replay]), np.empty(n_replay))
                        held, final_loss = d - 1, engine.loss()
                        t_end = (
                            t_flow + (float(cs[done - 2]) if done >= 2 else 0.0)
                            if done >= 1
                            else ck_t + float(np.cumsum(since[:n_replay])[-1])
                            if n_replay
                            else ck_t
                        )
                        rolled_back = True
                    else:
                        held, final_loss = d, np.nan
                        t_end = t_flow + (float(cs[done - 1]) if done >= 1 else 0.0)
                        rolled_back = False
                    step = held
                    rec, rec_loss, rec_t = end_at(step, final_loss, t_end)
                    if rolled_back:
                        what = f"the model keeps the last finite state, step {step}"
                    else:
                        why = "keep_finite=False" if not keep_finite else (unguarded_why or "no checkpoint")
                        what = f"the model holds that non-finite state ({why})"
                    warnings.warn(
                        f"train: the run diverged at step {diverged_at} (non-finite loss or parameters); {what}",
                        DivergenceWarning,
                        stacklevel=3,
                    )
                    sched_error = None  # the divergence came first
                    break
                engine.advanced(lrs, buf)
                if ck is not None:
                    ck_lrs.append(lrs)
                step, t_flow = stop, t_flow + float(cs[-1])
                at_stop(step)
                if bar is not None:
                    bar.update(len(lrs))
                # next chunk: about chunk_seconds, growing at most 4x at a time; at least 4 steps when 4
                # steps take under a second (a C++ call returns to Python within about a second)
                per_step = elapsed / max(len(lrs), 1)
                want = int(chunk_seconds / per_step) if per_step > 0 else chunk * 4
                chunk = max(1, min(chunk * 4, want), 4 if 4 * per_step <= 1.0 else 1)
                if sched_error is not None and step >= fail_step:
                    break
    finally:  # a second Ctrl-C still closes the bar and hands the state to the model
        if bar is not None:
            bar.close()
        engine.finish()
    if sched_error is not None:
        status = "failed"
        rec, rec_loss, rec_t = end_at(step, engine.loss(), t_flow)
    elif status == "completed":
        rec_loss[-1], rec_t[-1] = final_loss, t_flow
    elif status == "interrupted":
        rec, rec_loss, rec_t = end_at(step, engine.loss(), t_flow)
        warnings.warn(
            f"train: interrupted at step {step}; the model holds that state", InterruptedWarning, stacklevel=3
        )
    out_metrics = {}
    for name, pairs in metrics.items():
        out_metrics[name] = np.asarray([v for s, v in pairs if s <= step])
    for name, val in engine.loss_metrics(rec_loss).items():
        out_metrics.setdefault(name, val)
    run = Run(
        steps=rec,
        t=rec_t,
        loss=rec_loss,
        metrics=out_metrics,
        snapshots=snap_list,
        status=status,
        diverged_at=diverged_at,
        wall_time=time.perf_counter() - start_time,
        method="gd",
    )
    run.info["kernel_seconds"] = kernel_seconds  # time inside the engine's chunk calls
    if sched_error is not None:
        run.info["error"] = str(sched_error)
        raise ScheduleError(
            f"{sched_error}; the run stopped at step {step} and the model holds that state "
            "(the record so far is this exception's .run)",
            run,
        ) from (sched_error.__cause__ or sched_error)
    return run
