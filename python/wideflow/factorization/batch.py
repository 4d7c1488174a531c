"""`train_batch`: many independent factorizations of one shape trained by gradient descent in one C++ call
per chunk, through the same driver as `wf.train`."""

from __future__ import annotations

import numbers
import time
from dataclasses import dataclass, field

import numpy as np

from .. import _core
from .._validate import positive_float, positive_int, threads_option
from ..base import GDEngine, infer_dtype
from ..errors import ScheduleError
from ..training.gd import run_gd
from ..training.recording import record_steps
from ..training.schedules import Schedule, as_schedule
from .model import target

__all__ = ["train_batch", "BatchRun"]


@dataclass
class BatchRun:
    """What `train_batch` returns (B runs, R recorded steps).

    Attributes
    ----------
    steps : (R,) recorded step indices (0 and the last step always included)
    t : (B, R) flow time of each run at each recorded step (sum of its step sizes so far)
    loss : (B, R) loss 1/2 ||Y - U V^T||_F^2; NaN after a run diverged
    rel_error : (B, R) ||Y - X||_F / ||Y||_F
    products : (B, R, m, n) X = U V^T at the recorded steps (float64), if requested, else None
    U, V : (B, m, k), (B, n, k) the final factors (the last finite state of a diverged run, unless
        keep_finite=False)
    status : (B,) "completed", "diverged", "interrupted" or "failed" (the schedule failed: ScheduleError.run)
    diverged_at : (B,) first non-finite step of each diverged run, -1 otherwise
    final_step : (B,) step of the state held in U, V
    """

    steps: np.ndarray
    t: np.ndarray
    loss: np.ndarray
    rel_error: np.ndarray
    products: np.ndarray | None
    U: np.ndarray
    V: np.ndarray
    status: np.ndarray
    diverged_at: np.ndarray
    final_step: np.ndarray
    wall_time: float = 0.0
    threads: int = 0
    info: dict = field(default_factory=dict)

    @property
    def batch_size(self) -> int:
        return int(self.U.shape[0])

    def singular_values(self) -> np.ndarray:
        """(B, R, min(m, n)) singular values of the recorded products (needs products=True)."""
        if self.products is None:
            raise ValueError("products: train_batch was called with products=False; no products were recorded")
        return np.linalg.svd(self.products, compute_uv=False)

    def __repr__(self) -> str:
        counts = {s: int(np.sum(self.status == s)) for s in ("completed", "diverged", "interrupted")}
        desc = ", ".join(f"{v} {k}" for k, v in counts.items() if v)
        return f"BatchRun(runs={self.batch_size}, steps={int(self.steps[-1])}, {desc}, wall_time={self.wall_time:.3g}s)"


def _stack(name: str, values, dtype) -> np.ndarray:
    """(B, r, c) C-contiguous finite copy from a 3-d array or a sequence of 2-d arrays."""
    try:
        if isinstance(values, np.ndarray):
            arr = np.array(values, dtype=dtype, copy=True)
        else:
            arr = np.array([np.asarray(v) for v in values], dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name}: expected a 3-d array or a list of 2-d arrays of one shape ({exc})") from exc
    if arr.ndim != 3:
        raise ValueError(f"{name}: expected a 3-d array (runs, rows, k) or a list of 2-d arrays, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name}: is empty (shape {arr.shape})")
    if not np.all(np.isfinite(arr)):
        b = int(np.argwhere(~np.isfinite(arr))[0][0])
        raise ValueError(f"{name}: run {b} contains non-finite values")
    return np.ascontiguousarray(arr)


def train_batch(
    Us,
    Vs,
    Y,
    lr,
    steps: int,
    *,
    record="log",
    record_points: int = 200,
    products: bool = False,
    keep_finite: bool = True,
    threads=None,
    progress=None,
    dtype=None,
    chunk_seconds: float = 0.2,
) -> BatchRun:
    """Train B independent factorizations X_b = U_b V_b^T by gradient descent in one C++ call per chunk.

    Parameters
    ----------
    Us, Vs : (B, m, k) and (B, n, k) arrays, or lists of B arrays of one shape (copied; not modified).
    Y : (m, n) target shared by all runs, or (B, m, n), one per run.
    lr : a positive number (all runs), a length-B array of positive numbers (one constant step size per
        run), or a schedule / callable of the step index shared by all runs.
    steps : number of GD steps of every run.
    record : "log", "all", an interval or a list of steps (as in `wf.train`); the loss and relative error
        of every run are kept there, and the products U V^T too if `products`.
    keep_finite : a run whose loss becomes non-finite stops and keeps its last finite state.
    threads : threads across runs (default: all available). Each run is done by one thread with the same
        code as a single run, so results are bitwise identical to `wf.train` run by run, for any thread
        count.
    Returns a `BatchRun`.
    """
    start = time.perf_counter()
    dt = infer_dtype(dtype, Us, Vs)
    Us_ = _stack("Us", Us, dt)
    Vs_ = _stack("Vs", Vs, dt)
    B, m, k = Us_.shape
    if Vs_.shape[0] != B:
        raise ValueError(f"Vs: expected {B} runs (as many as Us), got {Vs_.shape[0]}")
    if Vs_.shape[2] != k:
        raise ValueError(f"Vs: widths differ from Us ({Vs_.shape[2]} vs {k} columns)")
    n = Vs_.shape[1]
    Ya = np.asarray(Y) if not isinstance(Y, np.ndarray) else Y
    if Ya.ndim == 2:
        Ys = target("Y", Ya, (m, n), dt)
    elif Ya.ndim == 3:
        Ys = _stack("Y", Ya, dt)
        if Ys.shape != (B, m, n):
            raise ValueError(f"Y: expected shape ({m}, {n}) or ({B}, {m}, {n}), got {Ys.shape}")
    else:
        raise ValueError(f"Y: expected shape ({m}, {n}) or ({B}, {m}, {n}), got {Ya.shape}")
    if steps is None:
        raise TypeError("steps: the number of gradient-descent steps is required")
    steps = positive_int("steps", steps, minimum=0)
    record_points = positive_int("record_points", record_points, minimum=2)
    nthreads = threads_option(threads)
    chunk_seconds = positive_float("chunk_seconds", chunk_seconds)

    # step sizes: run_lr[b] * schedule(t)
    if isinstance(lr, (Schedule,)) or callable(lr):
        schedule, run_lr = as_schedule(lr), np.ones(B)
    elif isinstance(lr, numbers.Real) and not isinstance(lr, bool):
        schedule, run_lr = as_schedule(lr), np.ones(B)
    else:
        try:
            run_lr = np.array(lr, dtype=np.float64, copy=True).ravel()
        except (TypeError, ValueError) as exc:
            raise TypeError("lr: expected a positive number, a length-B array of them, or a schedule") from exc
        if run_lr.size != B:
            raise ValueError(f"lr: expected one step size per run ({B}), got {run_lr.size}")
        if not np.all(np.isfinite(run_lr) & (run_lr > 0)):
            raise ValueError("lr: step sizes must be > 0 and finite")
        schedule = as_schedule(1.0)
    run_lr = np.ascontiguousarray(run_lr, dtype=np.float64)

    rec = record_steps(record, steps, record_points)
    engine = _BatchGD(Us_, Vs_, Ys, run_lr, rec, products, nthreads)
    sched_error = None
    try:
        run = run_gd(
            engine,
            schedule,
            steps,
            record=rec,
            record_points=record_points,
            progress=progress,
            keep_finite=keep_finite,
            chunk_seconds=chunk_seconds,
            desc="train_batch",
        )
    except ScheduleError as exc:  # every run stopped at the failing step; the record so far is exc.run
        sched_error, run = exc, exc.run
    batch = engine.result(run, wall_time=time.perf_counter() - start)
    if sched_error is not None:
        raise ScheduleError(
            f"{run.info['error']}; every run stopped at step {run.final_step} (the runs so far are "
            "this exception's .run)",
            batch,
        ) from (sched_error.__cause__ or sched_error)
    return batch


class _BatchGD(GDEngine):
    """B factorizations of one shape as one GD engine: each chunk is one C++ call over every run (parallel
    across runs; each run bitwise equal to the same run trained alone by `wf.train`, for any thread count).

    The runs diverge on their own: the kernel stops a run at its first non-finite state (holding the last
    finite one, unless keep_finite=False) and skips it afterwards. So the engine never reports a divergence to
    the driver, and records the per-run losses (and products) at the recorded steps itself; the driver's
    scalar losses of a batch are zeros (a batch has no one loss) and the driver's Run gives the recorded
    steps, the flow times and the status.
    """

    keeps_finite = True

    def __init__(
        self,
        Us: np.ndarray,
        Vs: np.ndarray,
        Ys: np.ndarray,
        run_lr: np.ndarray,
        rec: np.ndarray,
        products: bool,
        threads: int,
    ):
        self.Us, self.Vs, self.Ys, self.run_lr, self.rec, self.threads = Us, Vs, Ys, run_lr, rec, threads
        B, m, k = Us.shape
        n = Vs.shape[1]
        self.shape = (B, m, n, k)
        self.loss_rec = np.full((B, rec.size), np.nan)
        self.x_rec = np.full((B, rec.size, m, n), np.nan) if products else None
        self.diverged = np.zeros(B, dtype=np.uint8)
        self.diverged_at = np.full(B, -1, dtype=np.int64)
        self.final_step = np.zeros(B, dtype=np.int64)
        self.steps_done = np.zeros(B, dtype=np.int64)
        self.step = 0
        self.end_loss = np.full(B, np.nan)
        self.end_x: np.ndarray | None = None

    def step_seconds_hint(self) -> float:
        B, m, n, k = self.shape
        return 4e-10 * m * n * k * B / max(self.threads or int(_core.threads_available()), 1) + 1e-7

    def _call(self, lrs: np.ndarray, rec_c: np.ndarray):
        """One kernel call over every run: (live runs, their losses and products at the offsets rec_c)."""
        B, m, n, _ = self.shape
        loss_c = np.full((B, rec_c.size), np.nan)
        x_c = np.full((B, rec_c.size, m, n), np.nan) if self.x_rec is not None else np.empty((0,))
        was = self.diverged.copy()
        _core.factorization.gd_batch(
            self.Us,
            self.Vs,
            self.Ys,
            self.run_lr,
            lrs,
            rec_c,
            loss_c,
            x_c,
            self.keep_finite,
            self.steps_done,
            self.diverged,
            self.threads,
        )
        return ~was.astype(bool), loss_c, x_c

    def run(self, lrs, losses):
        step, stop = self.step, self.step + lrs.size
        lo, hi = int(np.searchsorted(self.rec, step, side="left")), int(np.searchsorted(self.rec, stop, side="right"))
        live, loss_c, x_c = self._call(lrs, np.ascontiguousarray(self.rec[lo:hi] - step))
        sel = np.flatnonzero(live)
        self.loss_rec[np.ix_(sel, np.arange(lo, hi))] = loss_c[sel]
        if self.x_rec is not None:
            self.x_rec[sel, lo:hi] = x_c[sel]
        newly = live & self.diverged.astype(bool)
        self.diverged_at[newly] = step + self.steps_done[newly]
        self.final_step[live] = step + self.steps_done[live]
        if self.keep_finite:
            self.final_step[newly] = np.maximum(self.diverged_at[newly] - 1, 0)
        self.step = stop
        losses[:] = 0.0
        return lrs.size, False

    def loss(self) -> float:
        return 0.0  # a batch has no one loss: the per-run losses are recorded by run() and finish()

    def snapshot(self) -> dict:
        return {"Us": self.Us.copy(), "Vs": self.Vs.copy()}

    def finish(self) -> None:
        """The per-run loss (and product) of the state each live run ends in: a call of zero steps."""
        live, loss_c, x_c = self._call(np.empty(0), np.zeros(1, dtype=np.int64))
        self.end_loss = np.where(live, loss_c[:, 0], np.nan)
        if self.x_rec is not None:
            self.end_x = np.where(live[:, None, None], x_c[:, 0], np.nan)

    def result(self, run, wall_time: float) -> BatchRun:
        """The BatchRun of the driver's `run` (its recorded steps, flow times and status)."""
        B, m, n, k = self.shape
        steps = run.steps
        col = np.minimum(np.searchsorted(self.rec, steps), self.rec.size - 1)
        in_rec = self.rec[col] == steps
        loss = np.where(in_rec[None, :], self.loss_rec[:, col], self.end_loss[:, None])
        X_rec = None
        if self.x_rec is not None:
            X_rec = self.x_rec[:, col]
            if self.end_x is not None and not in_rec.all():
                X_rec[:, ~in_rec] = self.end_x[:, None]
        Y64 = self.Ys.astype(np.float64)
        ynorm = np.linalg.norm(Y64) if self.Ys.ndim == 2 else np.linalg.norm(Y64, axis=(1, 2))[:, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = np.sqrt(2.0 * loss) / ynorm
        t = self.run_lr[:, None] * run.t[None, :]
        st = np.full(B, run.status, dtype=object)
        st[self.diverged.astype(bool)] = "diverged"
        itemsize = np.dtype(self.Us.dtype).itemsize
        return BatchRun(
            steps=steps,
            t=t,
            loss=loss,
            rel_error=rel,
            products=X_rec,
            U=self.Us,
            V=self.Vs,
            status=st.astype(str),
            diverged_at=self.diverged_at,
            final_step=self.final_step,
            wall_time=wall_time,
            threads=self.threads or int(_core.threads_available()),
            info={"tiny_path": bool(_core.factorization.tiny_path(m, n, k, itemsize))},
        )
