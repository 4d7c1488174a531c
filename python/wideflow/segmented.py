"""Long gradient-descent runs in segments: stop once the loss is small, measure at a checkpoint.

    run = wf.segmented.train_long(net, x, y, lr=eta, steps=10**6, first=10**4, tol=1e-7,
                                  on_first=lambda step: measure(net))

trains `net` in segments ending at `first` (default 10^4 steps), then 3x further each time (3 10^4,
9 10^4, ...) up to `steps`, and stops after the first segment whose final loss is <= `tol`. The result is
one `Run` over the whole history: a log-spaced loss record and log-spaced parameter snapshots of the full
budget (only those reached), as if it had been one call of `wf.train`. Each segment is one `wf.train`
call, so the parameters after segment k equal those of one run of the same length to rounding.
"""

from __future__ import annotations

import numpy as np

from .recording import Run

__all__ = ["train_long", "log_steps", "segment_ends"]


def log_steps(total: int, count: int) -> list[int]:
    """About `count` log-spaced step indices in [1, total], and 0 (the recorded steps of a long run)."""
    if total <= 0:
        return [0]
    return sorted(set(np.unique(np.round(np.geomspace(1, total, count)).astype(np.int64)).tolist()) | {0})


def segment_ends(first: int | None, total: int) -> list[int]:
    """Segment ends: `first` (default 10^4; capped at `total`), then x3 each time, then `total`."""
    out = []
    b = min(first, total) if first else min(10_000, total)
    while b < total:
        out.append(int(b))
        b *= 3
    out.append(int(total))
    return out


def train_long(
    net,
    x,
    y,
    *,
    lr,
    steps: int,
    train_set: str = "all",
    first: int | None = None,
    tol: float = 0.0,
    record_points: int = 300,
    snapshots: int = 0,
    threads=None,
    kernel: str = "auto",
    on_first=None,
) -> Run:
    """Train in segments (ends: `first`, then x3, up to `steps`), stopping after a segment once the loss
    is <= tol; `on_first(step)` is called after the first segment (e.g. to measure the state after the
    paper's 10^4 epochs). Returns one Run over the whole history (log-spaced record, snapshots; run.t is
    the flow time sum_k eta_k). `lr` is a constant step (a float)."""
    from .training import train

    rec_all = log_steps(steps, record_points)
    snap_all = log_steps(steps, snapshots) if snapshots else []
    step, t0 = 0, 0.0
    steps_l: list = []
    t_l: list = []
    loss_l: list = []
    snaps: dict = {}
    status, diverged_at, wall = "completed", None, 0.0
    for k, end in enumerate(segment_ends(first, steps)):
        n = end - step
        rec = [s - step for s in rec_all if step < s < end]
        sn = [s - step for s in snap_all if step < s < end] if snapshots else None
        run = train(
            net,
            x,
            y,
            lr=lr,
            steps=n,
            train=train_set,
            record=rec,
            snapshots=sn,
            progress=False,
            threads=threads,
            kernel=kernel,
        )
        wall += run.wall_time
        keep = slice(0 if k == 0 else 1, None)
        steps_l.append(run.steps[keep] + step)
        t_l.append(run.t[keep] + t0)
        loss_l.append(run.loss[keep])
        for s, state in run.snapshots:
            snaps.setdefault(int(s) + step, state)
        if run.status != "completed":
            status = run.status
            diverged_at = None if run.diverged_at is None else run.diverged_at + step
            step += run.final_step
            break
        step, t0 = end, float(run.t[-1] + t0)
        if k == 0 and on_first is not None:
            on_first(step)
        if run.final_loss <= tol:
            break
    return Run(
        steps=np.concatenate(steps_l),
        t=np.concatenate(t_l),
        loss=np.concatenate(loss_l),
        snapshots=sorted(snaps.items()),
        status=status,
        diverged_at=diverged_at,
        wall_time=wall,
        method="gd",
        info={"lr": lr},
    )
