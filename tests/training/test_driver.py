"""The gradient-descent driver (wideflow.training.gd.run_gd) against a fake engine in pure NumPy.

The fake model is the scalar quadratic L(w) = 1/2 (w - y)^2, whose GD iterates have the closed form
w_k = y + (w_0 - y) prod_{s<k} (1 - eta_s): every recorded loss, snapshot and rolled-back state is checked
against it, and the chunk calls the engine saw show how the driver split the run.
"""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest

import wideflow as wf
from wideflow.base import FlowEngine, GDEngine, Model
from wideflow.training.gd import run_gd
from wideflow.training.schedules import as_schedule


class FakeGD(GDEngine):
    """GD on 1/2 (w - y)^2 with the kernels' conventions (losses at the start of each step; a run stops at
    the first non-finite state)."""

    def __init__(self, w0=3.0, y=1.0, interrupt_at=None, keeps_finite=False):
        self.w = np.array([w0])
        self.y = y
        self.calls: list[tuple[int, int]] = []  # (first step, number of steps) of each run() call
        self.step = 0
        self.interrupt_at = interrupt_at
        self.keeps_finite = keeps_finite
        self.finished = 0
        self.restored = 0

    def loss(self):
        with np.errstate(over="ignore", invalid="ignore"):
            return float(0.5 * (self.w[0] - self.y) ** 2)

    def run(self, lrs, losses):
        self.calls.append((self.step, lrs.size))
        for s, lr in enumerate(lrs):
            losses[s] = self.loss()
            if not np.isfinite(losses[s]):
                if self.keeps_finite and self.keep_finite:
                    self.w[0] = self._prev
                self.step += s
                return s, True
            self._prev = self.w[0]
            with np.errstate(over="ignore", invalid="ignore"):
                self.w[0] = self.w[0] - lr * (self.w[0] - self.y)
        self.step += lrs.size
        if self.interrupt_at is not None and self.step >= self.interrupt_at:
            self.interrupt_at = None
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C during a chunk: noticed when it returns
        return lrs.size, False

    def snapshot(self):
        return {"w": self.w.copy()}

    def checkpoint(self, into=None):
        return (self.w.copy(), self.step)

    def restore(self, ck):
        self.w[...] = ck[0]
        self.step = ck[1]
        self.restored += 1

    def metrics(self):
        return {"w": float(self.w[0])}

    def finish(self):
        self.finished += 1


def closed_form(w0, y, lrs):
    """w_k for k = 0..len(lrs)."""
    return y + (w0 - y) * np.concatenate([[1.0], np.cumprod(1.0 - np.asarray(lrs, dtype=np.float64))])


def test_records_follow_the_closed_form_and_always_hold_the_ends():
    eng = FakeGD()
    run = run_gd(eng, as_schedule(0.01), 1000, record="log", record_points=30, progress=False)
    w = closed_form(3.0, 1.0, np.full(1000, 0.01))
    assert run.steps[0] == 0 and run.steps[-1] == 1000 and np.all(np.diff(run.steps) > 0)
    np.testing.assert_allclose(run.loss, 0.5 * (w[run.steps] - 1.0) ** 2, rtol=1e-10)
    np.testing.assert_allclose(run.t, 0.01 * run.steps, rtol=1e-12)
    assert run.status == "completed" and run.final_loss == eng.loss() and eng.finished == 1


def test_chunks_cover_every_step_once_and_end_at_snapshots():
    eng = FakeGD()
    run = run_gd(
        eng, as_schedule(0.01), 500, record=[3, 250], snapshots=[5, 17, 333], progress=False, chunk_seconds=1e-9
    )
    starts = [s for s, _ in eng.calls]
    ends = [s + n for s, n in eng.calls]
    assert starts[0] == 0 and ends[-1] == 500 and starts[1:] == ends[:-1]  # contiguous, no step twice
    assert {5, 17, 333} <= set(ends)  # a snapshot is a chunk break
    assert 3 not in ends and 250 not in ends  # a recorded loss is not (without metrics): it comes back per step
    w = closed_form(3.0, 1.0, np.full(500, 0.01))
    assert [s for s, _ in run.snapshots] == [0, 5, 17, 333, 500]  # the ends are always kept
    for s, snap in run.snapshots:
        np.testing.assert_allclose(snap["w"], [w[s]], rtol=1e-13)
    assert list(run.steps) == [0, 3, 250, 500]


def test_chunk_size_grows_at_most_fourfold():
    eng = FakeGD()
    run_gd(eng, as_schedule(0.01), 5000, progress=False, chunk_seconds=10.0)
    sizes = [n for _, n in eng.calls]
    assert sizes[0] == 1  # no step-time hint: the first chunk is one step
    assert all(b <= 4 * a for a, b in zip(sizes[:-2], sizes[1:-1]))
    assert sum(sizes) == 5000


def test_metrics_break_chunks_at_recorded_steps():
    eng = FakeGD()
    eng.has_metrics = True
    run = run_gd(eng, as_schedule(0.02), 200, record=[10, 50, 120], progress=False)
    assert {10, 50, 120} <= {s + n for s, n in eng.calls}
    w = closed_form(3.0, 1.0, np.full(200, 0.02))
    np.testing.assert_allclose(run.metrics["w"], w[[0, 10, 50, 120, 200]], rtol=1e-13)


def _diverging_schedule():
    # steps 0..19 contract, then eta = 1e80 multiplies the error by ~1e80 per step: inf within a few steps
    return lambda k: 0.1 if k < 20 else 1e80


@pytest.mark.parametrize("keeps_finite", [False, True])
def test_divergence_rolls_back_to_the_last_finite_state(keeps_finite):
    eng = FakeGD(keeps_finite=keeps_finite)
    with pytest.warns(wf.DivergenceWarning, match=r"diverged at step (\d+).*last finite state"):
        run = run_gd(eng, as_schedule(_diverging_schedule()), 100, record="all", progress=False, chunk_seconds=1e-9)
    d = run.diverged_at
    lrs = [0.1 if k < 20 else 1e80 for k in range(100)]
    with np.errstate(over="ignore", invalid="ignore"):
        w = closed_form(3.0, 1.0, lrs)
        assert np.isfinite(w[d - 1]) and not np.isfinite(0.5 * (w[d] - 1.0) ** 2)  # d: the first non-finite state
    assert run.status == "diverged" and run.steps[-1] == d - 1
    np.testing.assert_allclose(eng.w, [w[d - 1]], rtol=1e-12)  # the model keeps the last finite state
    assert run.final_loss == pytest.approx(0.5 * (w[d - 1] - 1.0) ** 2, rel=1e-12)
    assert (eng.restored > 0) == (not keeps_finite)  # rolled back by replay unless the kernel keeps it


def test_divergence_without_keep_finite_holds_the_non_finite_state():
    eng = FakeGD()
    with pytest.warns(wf.DivergenceWarning, match="keep_finite=False"):
        run = run_gd(eng, as_schedule(_diverging_schedule()), 100, keep_finite=False, progress=False)
    assert run.status == "diverged" and not np.isfinite(run.final_loss) and eng.restored == 0


def test_schedule_failure_stops_at_that_step_with_the_record():
    eng = FakeGD()
    with pytest.raises(wf.ScheduleError, match=r"^lr\b.*step 37\b") as info:
        run_gd(eng, as_schedule(lambda k: 0.01 if k < 37 else float("nan")), 100, record="all", progress=False)
    run = info.value.run
    assert run.status == "failed" and run.steps[-1] == 37 and eng.step == 37
    w = closed_form(3.0, 1.0, np.full(37, 0.01))
    np.testing.assert_allclose(eng.w, [w[-1]], rtol=1e-13)
    np.testing.assert_allclose(run.loss, 0.5 * (w - 1.0) ** 2, rtol=1e-10)


def test_schedule_exception_is_the_cause():
    def sched(k):
        if k == 12:
            raise ZeroDivisionError("boom")
        return 0.01

    with pytest.raises(wf.ScheduleError) as info:
        run_gd(FakeGD(), as_schedule(sched), 50, progress=False)
    assert isinstance(info.value.__cause__, ZeroDivisionError) and info.value.run.steps[-1] == 12


def test_ctrl_c_ends_the_run_after_the_chunk_in_progress():
    before = signal.getsignal(signal.SIGINT)
    eng = FakeGD(interrupt_at=40)
    with pytest.warns(wf.InterruptedWarning, match=r"interrupted at step (\d+)"):
        run = run_gd(eng, as_schedule(0.01), 10**6, progress=False, chunk_seconds=1e-9)
    assert run.status == "interrupted" and 40 <= run.steps[-1] < 10**6 and run.steps[-1] == eng.step
    w = closed_form(3.0, 1.0, np.full(eng.step, 0.01))
    np.testing.assert_allclose(eng.w, [w[-1]], rtol=1e-12)
    assert run.final_loss == pytest.approx(0.5 * (w[-1] - 1.0) ** 2, rel=1e-12) and eng.finished == 1
    assert signal.getsignal(signal.SIGINT) is before  # the handler is restored


# ------------------------------------------------------------------------------- the contract of wf.train
class GDOnly(Model):
    def __init__(self):
        self.w = np.array([3.0])

    def state(self):
        return {"w": self.w.copy()}

    def _gd_engine(self, data, options):
        eng = FakeGD()
        eng.w = self.w  # trains the model's own array in place
        return eng


def test_train_checks_the_contract_naming_the_type():
    with pytest.raises(TypeError, match=r"^model: .*got dict"):
        wf.train({"w": 1.0}, lr=0.1, steps=3)
    with pytest.raises(TypeError, match=r"^model: GDOnly has no gradient flow"):
        wf.train(GDOnly(), method="flow", t_end=1.0)
    assert GDOnly.supports("gd") and not GDOnly.supports("flow")
    assert wf.ShallowReLU.supports("flow") and wf.OneLayer.supports("flow")
    model = GDOnly()
    run = wf.train(model, lr=0.5, steps=4, progress=False)
    assert model.w[0] == pytest.approx(1.0 + 2.0 * 0.5**4) and run.final_step == 4


def test_train_refuses_an_engine_outside_the_contract():
    class Bad(GDOnly):
        def _gd_engine(self, data, options):
            return object()

    with pytest.raises(TypeError, match=r"^model: Bad\._gd_engine returned a object, not a wideflow\.base\.GDEngine"):
        wf.train(Bad(), lr=0.1, steps=1)


def test_flow_engine_base_delegates_to_its_integrator():
    class Exact:  # w' = -(w - 1): w(t) = 1 + 2 e^{-t}, one exact step per call
        accepted = rejected = evals = 0

        def __init__(self):
            self.t = 0.0

        def loss(self):
            return 0.5 * (2.0 * np.exp(-self.t)) ** 2

        def integrate(self, t_stop, rtol, atol, max_steps, t_out, loss_out):
            self.t = t_stop
            t_out[0], loss_out[0] = self.t, self.loss()
            self.accepted += 1
            return 1, True, False

    class Eng(FlowEngine):
        def __init__(self):
            self.flow = Exact()

        def snapshot(self):
            return {"t": self.flow.t}

    from wideflow.training.flow import run_flow

    run = run_flow(Eng(), 2.0, rtol=1e-6, atol=1e-9, record=[0.5, 1.0], progress=False)
    np.testing.assert_allclose(run.t, [0.0, 0.5, 1.0, 2.0])
    np.testing.assert_allclose(run.loss, 2.0 * np.exp(-2.0 * run.t), rtol=1e-14)
    assert run.info["accepted"] == 3 and run.status == "completed"


def test_a_flow_engine_that_stops_making_steps_ends_the_run_instead_of_hanging():
    from wideflow.errors import DivergenceWarning
    from wideflow.training.flow import STALLED_CALLS, run_flow

    class Stuck:  # one step to t = 0.1, then calls that return without a step (and without failing)
        accepted = rejected = evals = 0
        t = 0.0
        calls = 0

        def loss(self):
            return 1.0 - self.t

        def integrate(self, t_stop, rtol, atol, max_steps, t_out, loss_out):
            self.calls += 1
            if self.t == 0.0:
                self.t = 0.1
                t_out[0], loss_out[0] = self.t, self.loss()
                self.accepted += 1
                return 1, False, False
            return 0, False, False

    class Eng(FlowEngine):
        def __init__(self):
            self.flow = Stuck()

        def snapshot(self):
            return {"t": self.flow.t}

    eng = Eng()
    with pytest.warns(DivergenceWarning, match="no step in"):
        run = run_flow(eng, 1.0, rtol=1e-6, atol=1e-9, record=[0.5], progress=False)
    assert run.status == "diverged" and "no step" in run.info["error"]
    assert eng.flow.calls == STALLED_CALLS + 1
    assert run.t[-1] == 0.1 and run.loss[-1] == pytest.approx(0.9)  # the record ends at the state reached


def test_model_loss_is_the_engines_loss():
    model = GDOnly()
    assert model.loss() == pytest.approx(2.0) and model.w[0] == 3.0  # 1/2 (3 - 1)^2, nothing trained
    x = np.linspace(-1.0, 1.0, 7)
    y = np.sin(3.0 * x)
    net = wf.ShallowReLU.init(50, seed=3)
    assert net.loss(x, y) == pytest.approx(0.5 * float(np.sum((net(x) - y) ** 2)), rel=1e-12)
    run = wf.train(net.copy(), x, y, lr=1e-3, steps=0, progress=False)
    assert net.loss(x, y) == run.final_loss  # the same kernel value as wf.train's record


# ------------------------------------------------------------------------------- the batch, same driver
def test_train_batch_ctrl_c_keeps_every_run_at_the_step_reached():
    rng = np.random.default_rng(4)
    Us, Vs = rng.standard_normal((3, 4, 2)) * 0.3, rng.standard_normal((3, 5, 2)) * 0.3
    Y = rng.standard_normal((4, 5))

    def lr(k):  # Ctrl-C while step 25's step size is asked for: the chunk in progress ends, then the run
        if k == 25:
            os.kill(os.getpid(), signal.SIGINT)
        return 0.05

    with pytest.warns(wf.InterruptedWarning, match=r"interrupted at step (\d+)"):
        batch = wf.train_batch(
            Us, Vs, Y, lr=lr, steps=10**6, record="log", products=True, progress=False, chunk_seconds=1e-9
        )
    stop = int(batch.steps[-1])
    assert 25 <= stop < 10**6 and list(batch.status) == ["interrupted"] * 3 and list(batch.final_step) == [stop] * 3
    ref = wf.train_batch(Us, Vs, Y, lr=0.05, steps=stop, record="all", products=True, progress=False)
    np.testing.assert_array_equal(batch.U, ref.U)  # each run holds the state of step `stop`, bitwise
    np.testing.assert_array_equal(batch.loss[:, -1], ref.loss[:, -1])  # and its loss and product end the record
    np.testing.assert_array_equal(batch.products[:, -1], ref.products[:, -1])
    np.testing.assert_array_equal(batch.loss, ref.loss[:, batch.steps])
