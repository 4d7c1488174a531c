"""Wide shallow univariate ReLU networks (Williams et al. 2019, eq. (1)).

    f(x) = (1/alpha) * sum_{i=1..m} c_i * max(a_i x + b_i, 0)

The parameters live in three NumPy arrays (`a`, `b`, `c`, float64 or float32) that training updates in
place. Reduced coordinates (knots, orientations, uv) and the per-neuron invariant
delta_i = c_i^2 - a_i^2 - b_i^2 (conserved by gradient flow) are computed from them on demand.
"""

from __future__ import annotations

import numpy as np

from . import _core, _events, _shallow_events
from ._validate import (
    MAX_ELEMENTS,
    choice,
    dtype_of,
    finite_vector,
    flag,
    inplace_array,
    positive_float,
    positive_int,
    real_array,
    same_length,
    seed_value,
    threads_option,
)
from .base import FlowEngine, GDEngine, Model, by_dtype, data_args, infer_dtype

SCHEMES = ("gaussian", "uniform_knots", "box")
KERNELS = ("auto", "direct", "sorted")


def _alpha_value(alpha, m: int) -> float:
    if isinstance(alpha, str):
        choice("alpha", alpha, ("m", "sqrt"))
        return float(m) if alpha == "m" else float(np.sqrt(m))
    value = positive_float("alpha", alpha)
    if not np.isfinite(1.0 / value):  # the kernels multiply by 1/alpha
        raise ValueError(
            f"alpha: 1/alpha is not finite (alpha = {value!r}); give alpha >= {1 / np.finfo(float).max:.3g}"
        )
    return value


# Up to this many samples the direct O(m n) kernel beats the sorted O(m log n + n) one (measured on
# AVX-512 and AVX2 machines with `python bench/run.py --crossover`; float32 vectors are twice as wide, so
# the direct kernel stays ahead longer).
DIRECT_MAX_SAMPLES = {np.dtype(np.float64): 6, np.dtype(np.float32): 12}


_DRAW_BLOCK = 1 << 20  # values drawn (in float64) per block at initialization


def _draw(out: np.ndarray, k: int, pairs: bool, draw, negate_pair: bool = False) -> None:
    """Fill `out` with k values from draw(count) (called on consecutive blocks, so the stream is that of one
    call), each stored once, or twice side by side when `pairs` (the second copy negated if negate_pair)."""
    for i in range(0, k, _DRAW_BLOCK):
        n = min(_DRAW_BLOCK, k - i)
        vals = draw(n)
        if pairs:
            out[2 * i : 2 * (i + n) : 2] = vals
            out[2 * i + 1 : 2 * (i + n) : 2] = -vals if negate_pair else vals
        else:
            out[i : i + n] = vals


def _first_nonfinite(arr: np.ndarray) -> int:
    """Index of the first non-finite entry of a 1-d array (searched in blocks: no O(m) temporary)."""
    for i in range(0, arr.size, _DRAW_BLOCK):
        bad = np.flatnonzero(~np.isfinite(arr[i : i + _DRAW_BLOCK]))
        if bad.size:
            return i + int(bad[0])
    return -1


# Evaluation alone (no update) is a histogram pass for the sorted kernel: it wins from 2 points on.
EVAL_DIRECT_MAX_POINTS = 1


def _pick_kernel(kernel: str, n: int, dtype, evaluate: bool = False) -> str:
    if kernel != "auto":
        return kernel
    limit = EVAL_DIRECT_MAX_POINTS if evaluate else DIRECT_MAX_SAMPLES[np.dtype(dtype)]
    return "direct" if n <= limit else "sorted"


class ShallowReLU(Model):
    """A one-hidden-layer univariate ReLU network f(x) = (1/alpha) sum_i c_i [a_i x + b_i]_+.

    Parameters
    ----------
    a, b, c : array-like of length m
        Inner weights a_i, biases b_i and outer weights c_i (copied). The dtype is float32 if all three
        are float32 arrays (or `dtype="float32"`), else float64.
    alpha : "m", "sqrt" or a positive number
        Width normalization alpha(m): m (mean-field, the paper's experiments), sqrt(m) (NTK) or a value.
    """

    def __init__(self, a, b, c, alpha="m", *, dtype=None):
        dt = infer_dtype(dtype, a, b, c)
        self.a = finite_vector("a", a, dt)
        self.b = finite_vector("b", b, dt)
        self.c = finite_vector("c", c, dt)
        same_length(("a", "b", "c"), self.a, self.b, self.c)
        self._dtype, self._width = dt, self.a.size
        self._alpha_spec = alpha
        self.alpha = _alpha_value(alpha, self.a.size)

    @classmethod
    def _own(cls, a: np.ndarray, b: np.ndarray, c: np.ndarray, alpha) -> ShallowReLU:
        """A net that takes ownership of three equal-length contiguous arrays of one dtype (no copy)."""
        net = cls.__new__(cls)
        net.a, net.b, net.c = a, b, c
        net._dtype, net._width = a.dtype, a.size
        net._alpha_spec = alpha
        net.alpha = _alpha_value(alpha, a.size)
        net.check()
        return net

    # ------------------------------------------------------------------ construction
    @classmethod
    def init(
        cls,
        m: int,
        scheme: str = "gaussian",
        inner_scale: float = 1.0,
        outer_scale: float = 1.0,
        alpha="m",
        seed=0,
        dtype="float64",
        L: float = 2.0,
        antisymmetric: bool = False,
    ) -> ShallowReLU:
        """Random initialization.

        scheme:
          "gaussian": a, b, c ~ N(0, 1) i.i.d., (a, b) times inner_scale, c times outer_scale;
          "uniform_knots": |a_i| = inner_scale with a random sign, knots e_i = -b_i/a_i ~ U[-L, L],
              c ~ N(0, outer_scale^2) (the "uniform initialization" whose kernel limit is the natural cubic
              spline);
          "box": (a, b) ~ U([-1, 1]^2) times inner_scale (PyTorch's nn.Linear(1, m) init), c ~ N(0, outer_scale^2).
        antisymmetric: draw m/2 neurons and pair each with a copy (a, b, -c) next to it, so that f_0 = 0
            exactly (m must be even).
        The relative layer scale delta_i = c_i^2 - a_i^2 - b_i^2 decides the regime: delta >> 0 adaptive,
        delta << 0 kernel (Williams et al. 2019).
        """
        m = positive_int("m", m, maximum=MAX_ELEMENTS)
        seed = seed_value(seed)
        antisymmetric = flag("antisymmetric", antisymmetric)
        choice("scheme", scheme, SCHEMES)
        s_in = positive_float("inner_scale", inner_scale)
        s_out = positive_float("outer_scale", outer_scale)
        L = positive_float("L", L)
        dt = dtype_of(dtype)
        if antisymmetric and m % 2:
            raise ValueError(f"m: antisymmetric initialization needs an even width, got {m}")
        _alpha_value(alpha, m)
        rng = np.random.default_rng(seed)
        k = m // 2 if antisymmetric else m
        a, b, c = (np.empty(m, dtype=dt) for _ in range(3))
        # Drawn in float64 block by block and rounded to dtype: the values are those of one float64 draw
        # of each array (a, then b, then c), rounded; no full float64 transient exists.
        if scheme == "gaussian":
            _draw(a, k, antisymmetric, lambda n: rng.standard_normal(n) * s_in)
            _draw(b, k, antisymmetric, lambda n: rng.standard_normal(n) * s_in)
        elif scheme == "uniform_knots":
            _draw(a, k, antisymmetric, lambda n: np.where(rng.random(n) < 0.5, -1.0, 1.0) * s_in)
            step = 2 if antisymmetric else 1
            pos = [0]

            def knot_b(n):  # b = -a * knots with a = +-inner_scale exactly (its sign is kept by the rounding)
                sign = np.sign(a[pos[0] * step : (pos[0] + n) * step : step]).astype(np.float64)
                pos[0] += n
                return -(sign * s_in) * rng.uniform(-L, L, n)

            _draw(b, k, antisymmetric, knot_b)
        else:
            _draw(a, k, antisymmetric, lambda n: rng.uniform(-1.0, 1.0, n) * s_in)
            _draw(b, k, antisymmetric, lambda n: rng.uniform(-1.0, 1.0, n) * s_in)
        # antisymmetric: neighbours (a, b, c), (a, b, -c): their terms cancel exactly in every kernel
        _draw(c, k, antisymmetric, lambda n: rng.standard_normal(n) * s_out, negate_pair=True)
        return cls._own(a, b, c, alpha)

    def copy(self) -> ShallowReLU:
        return ShallowReLU(self.a, self.b, self.c, self.alpha, dtype=self.dtype)

    # ------------------------------------------------------------------ basic properties
    @property
    def width(self) -> int:
        return int(self._width)

    @property
    def dtype(self) -> np.dtype:
        return self._dtype

    def __repr__(self) -> str:
        return f"ShallowReLU(width={self.width}, alpha={self.alpha:g}, dtype={self.dtype.name})"

    def __call__(self, x, *, threads=None, kernel: str = "auto") -> np.ndarray:
        """Evaluate f at the points x (any shape, any order); returns float64 of the same shape.

        kernel: "direct" (O(m P) for P points), "sorted" (sort the points, then one histogram pass:
        O(m log P + P)), or "auto" (sorted from 2 points on). Extra memory O(P), whatever the width.
        """
        choice("kernel", kernel, KERNELS)
        xa = real_array("x", x, np.float64)
        flat = finite_vector("x", xa.ravel(), allow_empty=True)
        nthreads = threads_option(threads)
        self._check_bounds(nthreads)
        return self._evaluate(flat, nthreads, kernel).reshape(xa.shape)

    def _evaluate(self, flat: np.ndarray, nthreads: int, kernel: str) -> np.ndarray:
        """f at the checked float64 points `flat` (O(P) extra memory: the kernels stream the neurons)."""
        out = np.empty_like(flat)
        if flat.size:
            if _pick_kernel(kernel, flat.size, self.dtype, evaluate=True) == "direct":
                _core.shallow.evaluate(self.a, self.b, self.c, 1.0 / self.alpha, flat, out, nthreads)
            else:
                order = np.argsort(flat, kind="stable")
                xs = np.ascontiguousarray(flat[order])
                ys = np.empty_like(xs)
                _core.shallow.evaluate_sorted(self.a, self.b, self.c, 1.0 / self.alpha, xs, ys, nthreads)
                out[order] = ys
        return out

    # ------------------------------------------------------------------ reduced coordinates
    def knots(self) -> np.ndarray:
        """e_i = -b_i / a_i (NaN where a_i = 0: such a neuron is constant and has no knot)."""
        a = self.a.astype(np.float64)
        b = self.b.astype(np.float64)
        out = np.full(a.shape, np.nan)
        np.divide(-b, a, out=out, where=a != 0)
        return out

    def orientations(self) -> np.ndarray:
        """s_i = sign(a_i): +1 active right of the knot, -1 active left of it, 0 constant."""
        return np.sign(self.a).astype(np.int8)

    def uv(self, signed: bool = False):
        """Reduced coordinates w_i = (u_i, v_i) = |c_i| (a_i, b_i) and the labels eps_i = sign(c_i).

        f(x) = (1/alpha) sum_i eps_i [u_i x + v_i]_+. With signed=True returns c_i (a_i, b_i) instead
        (negative neurons reflected through the origin), the other convention of uv diagrams.
        Returns (u, v, eps).
        """
        c = self.c.astype(np.float64)
        w = c if signed else np.abs(c)
        return w * self.a, w * self.b, np.sign(c).astype(np.int8)

    def invariant(self) -> np.ndarray:
        """delta_i = c_i^2 - a_i^2 - b_i^2: constant under gradient flow, O(lr^2) drift per GD step."""
        a, b, c = (v.astype(np.float64) for v in (self.a, self.b, self.c))
        return c * c - a * a - b * b

    def active(self, x) -> np.ndarray:
        """Boolean (len(x), m) activation pattern 1[a_i x_j + b_i > 0] (small problems only)."""
        xv = finite_vector("x", x, self.dtype)
        return (np.multiply.outer(xv, self.a) + self.b) > 0

    def dead(self, x) -> np.ndarray:
        """Mask of neurons inactive on every point of x (they get zero gradient forever)."""
        return np.asarray(~self.active(x).any(axis=0))

    def check(self) -> None:
        """Verify the parameter arrays (which users may replace or edit): same dtype, contiguous, equal
        lengths, finite. Raises naming the array. One parallel read pass, no O(m) temporary."""
        self._check_bounds()

    def _check_bounds(self, threads: int = 0) -> tuple:
        """check() and return (max |a|, max |b|, max |c|)."""
        out = []
        for name in ("a", "b", "c"):
            arr = getattr(self, name)
            inplace_array(name, arr, self._dtype, (self._width,))
            mx = _core.guard.abs_max(arr, threads)
            if not np.isfinite(mx):
                raise ValueError(f"{name}: contains a non-finite value at index {_first_nonfinite(arr)}")
            out.append(mx)
        _alpha_value(self.alpha, self._width)
        return tuple(out)

    def state(self) -> dict:
        """Copies of the parameters (for snapshots and checkpoints)."""
        return {"a": self.a.copy(), "b": self.b.copy(), "c": self.c.copy()}

    # ------------------------------------------------------------------ training
    def _gd_engine(self, data, options):
        threads = threads_option(options.pop("threads", None))
        bounds = self._check_bounds(threads)
        mode = choice("train", options.pop("train", "all"), ("all", "outer", "inner"))
        kernel = choice("kernel", options.pop("kernel", "auto"), KERNELS)
        x, y = self._data(data)
        return _ShallowGD(self, x, y, mode, kernel, threads, bounds)

    def _flow_engine(self, data, options):
        self.check()
        mode = choice("train", options.pop("train", "all"), ("all", "outer", "inner"))
        kernel = choice("kernel", options.pop("kernel", "auto"), KERNELS)
        if kernel == "direct":
            raise ValueError("kernel: method='flow' evaluates gradients with the sorted kernel only")
        threads = threads_option(options.pop("threads", None))
        tableau = options.pop("tableau")
        events = _events.events_option(options)  # the exact flow (kinks, sliding); False: plain RK
        zeno = _events.zeno_options(options) if events else None
        x, y = self._data(data)
        if zeno is not None:
            return _shallow_events.ShallowEventFlow(self, x, y, mode, threads, tableau, *zeno)
        return _ShallowFlow(self, x, y, mode, threads, tableau)

    @staticmethod
    def _data(data):
        data_args("ShallowReLU", data, ("x", "y"))
        x = finite_vector("x", data[0])
        y = finite_vector("y", data[1])
        same_length(("x", "y"), x, y)
        return x, y


class _ShallowGD(GDEngine):
    """Fused GD on a ShallowReLU: the parameters are updated in place by the C++ kernel.

    The sorted kernel needs ascending samples: the engine keeps its own sorted copies of (x, y) (the
    loss does not depend on the order of the samples). Divergence safety needs no copy of the
    parameters: before each chunk, bounds on max |a|, |b|, |c| and on the predictions certify how many
    steps cannot overflow (wideflow/guard.hpp); the driver runs at most that many.
    """

    def __init__(self, net: ShallowReLU, x, y, mode, kernel, threads, bounds):
        self.net, self.threads = net, threads
        self.scale_inner = 0.0 if mode == "outer" else 1.0
        self.scale_outer = 0.0 if mode == "inner" else 1.0
        self.kernel = _pick_kernel(kernel, x.size, net.dtype)
        if self.kernel == "sorted":
            order = np.argsort(x, kind="stable")
            x, y = np.ascontiguousarray(x[order]), np.ascontiguousarray(y[order])
            self.bins = np.empty(net.width, dtype=np.int32)  # per-neuron bin cache of the sorted kernel
            self.bins_valid = False
        self.x, self.y = x, y
        self.pred = net._evaluate(x, threads, "auto")  # the faster evaluation, whichever kernel trains
        f32 = net.dtype == np.float32
        self.problem = {
            "n": float(x.size),
            "m": float(net.width),
            "inv_alpha": 1.0 / net.alpha,
            "s_inner": self.scale_inner,
            "s_outer": self.scale_outer,
            "X": float(np.max(np.abs(x))),
            "sum_x2": float(np.dot(x, x)),
            "Ymax": float(np.max(np.abs(y))),
            "tmax": 1e30 if f32 else 1e290,
            "dmax": 1e290,
            "margin": 1e-6 if f32 else 1e-14,
        }
        self.bounds, self.measured = bounds, True

    def step_seconds_hint(self) -> float:
        return 1e-9 * self.net.width * (min(self.x.size, 24) if self.kernel == "direct" else 2) + 2e-6

    def loss(self) -> float:
        # the kernels' own fixed-order sum, so a loss never depends on where a chunk ended
        return float(_core.shallow.residual_loss(self.pred, self.y))

    def run(self, lrs, losses):
        n = self.net
        args = (
            n.a,
            n.b,
            n.c,
            1.0 / n.alpha,
            self.x,
            self.y,
            self.pred,
            lrs,
            self.scale_inner,
            self.scale_outer,
            losses,
            self.threads,
        )
        if self.kernel == "sorted":
            r = _core.shallow.gd_sorted(*args, self.bins, self.bins_valid)
            self.bins_valid = True
        else:
            r = _core.shallow.gd_direct(*args)
        return int(r.steps_done), bool(r.diverged)

    def certify(self, lrs):
        P, loss = float(np.max(np.abs(self.pred))), self.loss()
        if not np.isfinite(loss):
            return 0
        k = int(_core.guard.certify(self.problem, *self.bounds, P, loss, lrs))
        if k < lrs.size and not self.measured:  # the bounds drift up along a run: measure them again
            self.bounds, self.measured = self._measure(), True
            k = int(_core.guard.certify(self.problem, *self.bounds, P, loss, lrs))
        return k

    def _measure(self):
        n = self.net
        return tuple(_core.guard.abs_max(v, self.threads) for v in (n.a, n.b, n.c))

    def advanced(self, lrs, losses):
        self.bounds = _core.guard.bounds_after(self.problem, *self.bounds, lrs, losses)
        self.measured = False

    def checkpoint_nbytes(self):
        return 3 * self.net.width * self.net.dtype.itemsize + self.pred.nbytes

    def checkpoint(self, into=None):
        n = self.net
        if into is None:
            return [v.copy() for v in (n.a, n.b, n.c, self.pred)]
        for dst, src in zip(into, (n.a, n.b, n.c, self.pred)):
            np.copyto(dst, src)
        return into

    def restore(self, ck):
        for dst, src in zip((self.net.a, self.net.b, self.net.c, self.pred), ck):
            dst[...] = src
        self.bins_valid = False
        self.bounds, self.measured = self._measure(), True

    def snapshot(self):
        return self.net.state()


class _ShallowFlow(FlowEngine):
    """Gradient flow of a ShallowReLU: the integrator owns the state [a; b; c] and writes it back into the
    model's arrays at every record and at the end."""

    def __init__(self, net: ShallowReLU, x, y, mode, threads, tableau):
        _, self.x, self.y, args = _shallow_events.flow_arguments(net, x, y, mode)
        self.net = net
        cls = by_dtype(net.dtype, _core.shallow.Flow64, _core.shallow.Flow32)
        self.flow = cls(*args, tableau, threads)

    def sync(self):
        self.flow.write_back(self.net.a, self.net.b, self.net.c)

    def snapshot(self):
        return self.net.state()
