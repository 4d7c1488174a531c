"""Wide shallow univariate ReLU networks (Williams et al. 2019, eq. (1)).

    f(x) = (1/alpha) * sum_{i=1..m} c_i * max(a_i x + b_i, 0)

The parameters live in three NumPy arrays (`a`, `b`, `c`, float64 or float32) that training updates in
place. Reduced coordinates (knots, orientations, uv) and the per-neuron invariant
delta_i = c_i^2 - a_i^2 - b_i^2 (conserved by gradient flow) are computed from them on demand.
"""

from __future__ import annotations


import numpy as np

from . import _core
from ._validate import (MAX_ELEMENTS, choice, dtype_of, finite_vector, flag, model_array, positive_float,
                        positive_int, real_array, same_length, seed_value, threads_option)
from .driver import Engine, FlowEngine

SCHEMES = ("gaussian", "uniform_knots", "box")
KERNELS = ("auto", "direct", "sorted")


def _alpha_value(alpha, m: int) -> float:
    if isinstance(alpha, str):
        choice("alpha", alpha, ("m", "sqrt"))
        return float(m) if alpha == "m" else float(np.sqrt(m))
    value = positive_float("alpha", alpha)
    if not np.isfinite(1.0 / value):  # the kernels multiply by 1/alpha
        raise ValueError(f"alpha: 1/alpha is not finite (alpha = {value!r}); give alpha >= "
                         f"{1 / np.finfo(float).max:.3g}")
    return value


# Up to this many samples the direct O(m n) kernel beats the sorted O(m log n + n) one (measured on
# AVX-512 and AVX2 machines with `python bench/run.py --crossover`; float32 vectors are twice as wide, so
# the direct kernel stays ahead longer).
DIRECT_MAX_SAMPLES = {np.dtype(np.float64): 6, np.dtype(np.float32): 12}


def _pick_kernel(kernel: str, n: int, dtype) -> str:
    if kernel != "auto":
        return kernel
    return "direct" if n <= DIRECT_MAX_SAMPLES[np.dtype(dtype)] else "sorted"



class ShallowReLU:
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
        if dtype is None:
            all32 = all(isinstance(v, np.ndarray) and v.dtype == np.float32 for v in (a, b, c))
            dtype = np.float32 if all32 else np.float64
        dt = dtype_of(dtype)
        self.a = finite_vector("a", a, dt)
        self.b = finite_vector("b", b, dt)
        self.c = finite_vector("c", c, dt)
        same_length(("a", "b", "c"), self.a, self.b, self.c)
        self._dtype, self._width = dt, self.a.size
        self._alpha_spec = alpha
        self.alpha = _alpha_value(alpha, self.a.size)

    # ------------------------------------------------------------------ construction
    @classmethod
    def init(cls, m: int, scheme: str = "gaussian", inner_scale: float = 1.0, outer_scale: float = 1.0,
             alpha="m", seed=0, dtype="float64", L: float = 2.0, antisymmetric: bool = False) -> "ShallowReLU":
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
        if scheme == "gaussian":
            a = rng.standard_normal(k) * s_in
            b = rng.standard_normal(k) * s_in
        elif scheme == "uniform_knots":
            a = np.where(rng.random(k) < 0.5, -1.0, 1.0) * s_in
            knots = rng.uniform(-L, L, k)
            b = -a * knots
        else:
            a = rng.uniform(-1.0, 1.0, k) * s_in
            b = rng.uniform(-1.0, 1.0, k) * s_in
        c = rng.standard_normal(k) * s_out
        if antisymmetric:  # neighbours (a, b, c), (a, b, -c): their terms cancel exactly in every kernel
            a, b, c = np.repeat(a, 2), np.repeat(b, 2), np.stack([c, -c], axis=1).ravel()
        return cls(a, b, c, alpha, dtype=dt)

    def copy(self) -> "ShallowReLU":
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
        O(m log P + P)), or "auto" (chosen by problem size).
        """
        choice("kernel", kernel, KERNELS)
        xa = real_array("x", x, np.float64)
        flat = finite_vector("x", xa.ravel(), allow_empty=True)
        self.check()
        out = np.empty_like(flat)
        if flat.size:
            nthreads = threads_option(threads)
            if _pick_kernel(kernel, flat.size, self.dtype) == "direct":
                _core.shallow_evaluate(self.a, self.b, self.c, 1.0 / self.alpha, flat, out, nthreads)
            else:
                order = np.argsort(flat, kind="stable")
                xs = np.ascontiguousarray(flat[order])
                ys = np.empty_like(xs)
                _core.shallow_evaluate_sorted(self.a, self.b, self.c, 1.0 / self.alpha, xs, ys, nthreads)
                out[order] = ys
        return out.reshape(xa.shape)

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
        return ~self.active(x).any(axis=0)

    def check(self) -> None:
        """Verify the parameter arrays (which users may replace or edit): same dtype, contiguous, equal
        lengths, finite. Raises naming the array."""
        for name in ("a", "b", "c"):
            model_array(name, getattr(self, name), self._dtype, (self._width,))
        _alpha_value(self.alpha, self._width)

    def state(self) -> dict:
        """Copies of the parameters (for snapshots and checkpoints)."""
        return {"a": self.a.copy(), "b": self.b.copy(), "c": self.c.copy()}

    # ------------------------------------------------------------------ training
    def _gd_engine(self, data, options):
        self.check()
        mode = choice("train", options.pop("train", "all"), ("all", "outer", "inner"))
        kernel = choice("kernel", options.pop("kernel", "auto"), KERNELS)
        threads = threads_option(options.pop("threads", None))
        x, y = self._data(data)
        return _ShallowGD(self, x, y, mode, kernel, threads)

    def _flow_engine(self, data, options):
        self.check()
        mode = choice("train", options.pop("train", "all"), ("all", "outer", "inner"))
        kernel = choice("kernel", options.pop("kernel", "auto"), KERNELS)
        if kernel == "direct":
            raise ValueError("kernel: method='flow' evaluates gradients with the sorted kernel only")
        threads = threads_option(options.pop("threads", None))
        tableau = options.pop("tableau")
        x, y = self._data(data)
        return _ShallowFlow(self, x, y, mode, threads, tableau)

    @staticmethod
    def _data(data):
        if len(data) != 2:
            raise TypeError(f"train: a ShallowReLU is trained on (x, y); got {len(data)} data arguments")
        x = finite_vector("x", data[0])
        y = finite_vector("y", data[1])
        same_length(("x", "y"), x, y)
        return x, y


class _ShallowGD(Engine):
    """Fused GD on a ShallowReLU: the parameters are updated in place by the C++ kernel.

    The sorted kernel needs ascending samples: the engine keeps its own sorted copies of (x, y) (the
    loss does not depend on the order of the samples).
    """

    def __init__(self, net: ShallowReLU, x, y, mode, kernel, threads):
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
        self.pred = net(x, threads=threads or None, kernel=self.kernel)

    def loss(self) -> float:
        # the kernels' own fixed-order sum, so a loss never depends on where a chunk ended
        return float(_core.residual_loss(self.pred, self.y))

    def run(self, lrs, losses):
        n = self.net
        args = (n.a, n.b, n.c, 1.0 / n.alpha, self.x, self.y, self.pred, lrs, self.scale_inner, self.scale_outer,
                losses, self.threads)
        if self.kernel == "sorted":
            done, diverged = _core.shallow_gd_sorted(*args, self.bins, self.bins_valid)
            self.bins_valid = True
        else:
            done, diverged = _core.shallow_gd_direct(*args)
        return int(done), bool(diverged)

    def checkpoint(self):
        return self.net.state(), self.pred.copy()

    def restore(self, ck):
        params, pred = ck
        for name, arr in params.items():
            getattr(self.net, name)[...] = arr
        self.pred[...] = pred
        self.bins_valid = False

    def snapshot(self):
        return self.net.state()


class _ShallowFlow(FlowEngine):
    """Gradient flow of a ShallowReLU: the integrator owns the state [a; b; c] and writes it back into the
    model's arrays at every record and at the end."""

    def __init__(self, net: ShallowReLU, x, y, mode, threads, tableau):
        order = np.argsort(x, kind="stable")
        self.x, self.y = np.ascontiguousarray(x[order]), np.ascontiguousarray(y[order])
        self.net = net
        cls = _core.ShallowFlow64 if net.dtype == np.float64 else _core.ShallowFlow32
        self.flow = cls(net.a, net.b, net.c, 1.0 / net.alpha, self.x, self.y, 0.0 if mode == "outer" else 1.0,
                        0.0 if mode == "inner" else 1.0, tableau, threads)

    def sync(self):
        self.flow.write_back(self.net.a, self.net.b, self.net.c)

    def snapshot(self):
        return self.net.state()
