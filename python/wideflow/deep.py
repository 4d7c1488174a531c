"""Deep fully-connected homogeneous networks (Du, Hu & Lee 2018).

    f(X) = Z_L,  Z_h = A_{h-1} W_h^T (+ b_h),  A_h = phi(Z_h),  A_0 = X   (rows of X are samples)

with phi = identity ("linear"), ReLU or leaky ReLU applied between layers (not after the last one). The
weights W_h, of shape (d_h, d_{h-1}), live in NumPy arrays (`net.weights`, float64 or float32) that
training updates in place. Without biases the net is 1-homogeneous in every layer, and gradient flow
conserves, for every hidden unit i of layer h,

    ||W_h[i, :]||^2 - ||W_{h+1}[:, i]||^2                      (per-neuron invariant)

hence the differences of squared layer norms ||W_h||_F^2 - ||W_{h+1}||_F^2; for linear nets also the
matrices W_{h+1}^T W_{h+1} - W_h W_h^T. Gradient descent moves them by exactly O(lr^2) per step.

`wf.train(net, X, Y, ..., metrics=...)` records them at the recorded steps only when asked (True, or names):
``layer_norms`` and ``neuron_invariants`` cost one read of the weights each; ``gram_invariants`` and
``gram_drift`` (linear nets without biases, hidden widths <= 2048) a d_h x d_h product per layer.
"""

from __future__ import annotations

import numbers

import numpy as np

from . import _core, _deep_events, _events
from ._validate import (
    MAX_ELEMENTS,
    choice,
    dtype_of,
    finite_matrix,
    model_array,
    positive_float,
    positive_int,
    real_array,
    seed_value,
    threads_option,
)
from .base import FlowEngine, GDEngine, Model, by_dtype, data_args, infer_dtype, metrics_option

ACTIVATIONS = ("linear", "relu", "leaky_relu")
GRAM_CHOICES = ("auto", True, False)
_GRAM_METRIC_MAX_WIDTH = 2048  # record Gram invariants only for hidden widths up to this


def _data_matrix(name: str, values, dtype, cols: int, rows: int | None, what: str) -> np.ndarray:
    """A contiguous finite (rows, cols) array (no copy when `values` already is one: the kernels only read
    it); a 1-d array is accepted as one column when cols == 1. Complex input is refused."""
    if np.iscomplexobj(values):
        raise TypeError(f"{name}: expected real numbers, got a complex array")
    try:
        arr = np.asarray(values, dtype=dtype)
    except (TypeError, ValueError, OverflowError) as exc:
        raise TypeError(f"{name}: expected an array of real numbers ({exc})") from exc
    if arr.ndim == 1 and cols == 1:
        arr = arr.reshape(-1, 1)
    if arr.ndim != 2:
        raise ValueError(f"{name}: expected a 2-d array (N, {cols}) with one {what} per row, got shape {arr.shape}")
    if arr.shape[1] != cols:
        raise ValueError(f"{name}: expected {cols} columns ({what}), got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name}: is empty (no samples)")
    if rows is not None and arr.shape[0] != rows:
        raise ValueError(f"{name}: expected {rows} rows (one per row of X), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: contains non-finite values")
    return np.ascontiguousarray(arr)


class DeepNet(Model):
    """A deep fully-connected net f(X) = W_L phi(... phi(X W_1^T) ...) with rows of X as samples.

    Parameters
    ----------
    weights : sequence of 2-d arrays
        W_1, ..., W_L with W_h of shape (d_h, d_{h-1}) (copied to contiguous arrays). The dtype is float32
        if all are float32 arrays (or `dtype="float32"`), else float64.
    activation : "linear", "relu" or "leaky_relu"
        phi, applied after every layer but the last.
    negative_slope : slope of leaky_relu for z < 0 (>= 0; default 0.01).
    biases : None (homogeneous net, the default) or a sequence of L vectors b_h of length d_h.
    """

    def __init__(self, weights, activation: str = "relu", *, negative_slope: float = 0.01, biases=None, dtype=None):
        choice("activation", activation, ACTIVATIONS)
        self._activation = activation
        self._negative_slope = positive_float("negative_slope", negative_slope, allow_zero=True)
        if isinstance(weights, np.ndarray) or not isinstance(weights, (list, tuple)):
            raise TypeError("weights: expected a list of 2-d arrays W_1, ..., W_L (each of shape (d_out, d_in))")
        if len(weights) == 0:
            raise ValueError("weights: at least one layer is required")
        dt = infer_dtype(dtype, *weights)
        ws: list[np.ndarray] = []
        for h, w in enumerate(weights):
            arr = finite_matrix(f"weights[{h}]", w, dt)
            if h > 0 and arr.shape[1] != ws[-1].shape[0]:
                raise ValueError(
                    f"weights[{h}]: expected d_in={ws[-1].shape[0]} (the output size of weights[{h - 1}], shape "
                    f"{ws[-1].shape}), got shape {arr.shape}"
                )
            ws.append(arr)
        self._weights = ws
        self._dtype = dt
        self._dims = (ws[0].shape[1],) + tuple(w.shape[0] for w in ws)
        if biases is None:
            self._biases = None
        else:
            if isinstance(biases, np.ndarray) or not isinstance(biases, (list, tuple)):
                raise TypeError("biases: expected None or a list of vectors b_1, ..., b_L")
            if len(biases) != len(ws):
                raise ValueError(f"biases: expected {len(ws)} vectors (one per layer), got {len(biases)}")
            bs = []
            for h, b in enumerate(biases):
                arr = real_array(f"biases[{h}]", b, dt)
                if arr.shape != (ws[h].shape[0],):
                    raise ValueError(f"biases[{h}]: expected shape ({ws[h].shape[0]},), got {arr.shape}")
                if not np.all(np.isfinite(arr)):
                    raise ValueError(f"biases[{h}]: contains non-finite values")
                bs.append(np.ascontiguousarray(arr))
            self._biases = bs

    # ------------------------------------------------------------------ construction
    @classmethod
    def init(
        cls,
        dims,
        variance=None,
        activation: str = "relu",
        *,
        seed=0,
        dtype="float64",
        bias: bool = False,
        negative_slope: float = 0.01,
    ) -> DeepNet:
        """Random net with layer sizes dims = (d_0, d_1, ..., d_L) and i.i.d. N(0, variance_h) weights.

        variance: None (He: 2/d_in for layers followed by relu/leaky_relu, 1/d_in otherwise), one number
        for every layer, or a list of L numbers (variances, not standard deviations). bias=True adds
        zero biases.
        """
        try:
            if isinstance(dims, (str, bytes)):
                raise TypeError
            raw = list(dims)
        except TypeError:
            raise TypeError(
                f"dims: expected a sequence of layer sizes (d_0, ..., d_L), got {type(dims).__name__}"
            ) from None
        dims = [positive_int(f"dims[{h}]", d, maximum=MAX_ELEMENTS) for h, d in enumerate(raw)]
        if len(dims) < 2:
            raise ValueError(f"dims: need at least an input and an output size, got {dims}")
        seed = seed_value(seed)
        choice("activation", activation, ACTIVATIONS)
        L = len(dims) - 1
        if variance is None:
            gain = [2.0 if (activation != "linear" and h < L - 1) else 1.0 for h in range(L)]
            var = [gain[h] / dims[h] for h in range(L)]
        elif isinstance(variance, numbers.Real):
            var = [positive_float("variance", variance)] * L
        else:
            try:
                raw = list(variance)
            except TypeError:
                raise TypeError(
                    f"variance: expected None, a number or a list of L numbers, got {type(variance).__name__}"
                ) from None
            var = [positive_float("variance", v) for v in raw]
            if len(var) != L:
                raise ValueError(f"variance: expected {L} values (one per layer), got {len(var)}")
        dt = dtype_of(dtype)
        rng = np.random.default_rng(seed)
        weights = [rng.standard_normal((dims[h + 1], dims[h])) * np.sqrt(var[h]) for h in range(L)]
        biases = [np.zeros(dims[h + 1]) for h in range(L)] if bias else None
        return cls(weights, activation, negative_slope=negative_slope, biases=biases, dtype=dt)

    def copy(self) -> DeepNet:
        return DeepNet(
            self.weights, self.activation, negative_slope=self.negative_slope, biases=self.biases, dtype=self.dtype
        )

    # ------------------------------------------------------------------ basic properties
    @property
    def weights(self) -> list:
        """W_1, ..., W_L (the arrays training updates in place; edit them with w[...] = ..., the list
        itself is fixed at construction)."""
        return self._weights

    @property
    def biases(self):
        """None or b_1, ..., b_L (updated in place like the weights)."""
        return self._biases

    @property
    def activation(self) -> str:
        """phi: "linear", "relu" or "leaky_relu" (fixed at construction; build a new net to change it)."""
        return self._activation

    @property
    def negative_slope(self) -> float:
        return self._negative_slope

    @property
    def dims(self) -> tuple:
        """Layer sizes (d_0, d_1, ..., d_L)."""
        return self._dims

    @property
    def depth(self) -> int:
        return len(self._dims) - 1

    @property
    def dtype(self) -> np.dtype:
        return self._dtype

    def __repr__(self) -> str:
        b = ", biases" if self.biases is not None else ""
        return f"DeepNet(dims={self.dims}, activation={self.activation!r}{b}, dtype={self.dtype.name})"

    def _args(self) -> tuple[list[np.ndarray], list[np.ndarray], _core.deep.Activation, float]:
        """The leading arguments of every _core.deep kernel: weights, biases, activation, negative slope."""
        return (
            self.weights,
            self.biases or [],
            _core.deep.Activation.__members__[self.activation],
            self.negative_slope,
        )

    def _check_arrays(self) -> None:
        """The kernels write into the arrays in place: they must still be what the net was built with."""
        d = self.dims
        if len(self._weights) != len(d) - 1:
            raise ValueError(
                f"weights: the net was built with {len(d) - 1} layers, the list now has "
                f"{len(self._weights)}; build a new DeepNet to change the architecture"
            )
        for h, w in enumerate(self._weights):
            model_array(f"weights[{h}]", w, self.dtype, (d[h + 1], d[h]))
        if self._biases is not None:
            if len(self._biases) != len(d) - 1:
                raise ValueError(f"biases: expected {len(d) - 1} vectors, the list now has {len(self._biases)}")
            for h, b in enumerate(self._biases):
                model_array(f"biases[{h}]", b, self.dtype, (d[h + 1],))

    def _inputs(self, X, Y=None):
        d = self.dims
        Xa = _data_matrix("X", X, self.dtype, d[0], None, "input features")
        if Y is None:
            return Xa
        Ya = _data_matrix("Y", Y, self.dtype, d[-1], Xa.shape[0], "outputs")
        return Xa, Ya

    def __call__(self, X, *, threads=None) -> np.ndarray:
        """f(X) for inputs X of shape (N, d_0); returns (N, d_L) in the net's dtype."""
        self._check_arrays()
        Xa = self._inputs(X)
        out = np.empty((Xa.shape[0], self.dims[-1]), dtype=self.dtype)
        _core.deep.evaluate(*self._args(), Xa, out, threads_option(threads))
        return out

    def loss(self, X, Y, *, threads=None) -> float:
        """1/2 sum_i ||f(x_i) - y_i||^2."""
        self._check_arrays()
        Xa, Ya = self._inputs(X, Y)
        return float(_core.deep.loss(*self._args(), Xa, Ya, 0.0, threads_option(threads)))

    def gradients(self, X, Y, *, threads=None):
        """(loss, [dL/dW_h], [dL/db_h] or None) from the C++ kernel (relu'(0) = 0)."""
        self._check_arrays()
        Xa, Ya = self._inputs(X, Y)
        gw = [np.empty_like(w) for w in self.weights]
        gb = [np.empty_like(b) for b in self.biases] if self.biases is not None else []
        loss = _core.deep.gradients(*self._args(), Xa, Ya, gw, gb, 0.0, threads_option(threads))
        return float(loss), gw, (gb if self.biases is not None else None)

    # ------------------------------------------------------------------ invariants
    def layer_norms(self) -> np.ndarray:
        """Squared Frobenius norms ||W_h||_F^2, h = 1..L (float64, biases not included)."""
        return np.array([float(np.sum(np.square(w, dtype=np.float64))) for w in self.weights])

    def neuron_invariants(self) -> list:
        """For each hidden layer h = 1..L-1, the vector over its units i of
        ||W_h[i, :]||^2 (+ b_h[i]^2 with biases) - ||W_{h+1}[:, i]||^2, conserved by gradient flow."""
        out = []
        for h in range(self.depth - 1):
            w_in = self.weights[h].astype(np.float64)
            w_out = self.weights[h + 1].astype(np.float64)
            v = np.einsum("ij,ij->i", w_in, w_in) - np.einsum("ji,ji->i", w_out, w_out)
            if self.biases is not None:
                b = self.biases[h].astype(np.float64)
                v = v + b * b
            out.append(v)
        return out

    def gram_invariants(self) -> list:
        """The matrices W_{h+1}^T W_{h+1} - W_h W_h^T (d_h x d_h), h = 1..L-1 (float64). Gradient flow
        conserves them for linear nets without biases (for ReLU nets only their diagonals, the per-neuron
        invariants, are conserved)."""
        out = []
        for h in range(self.depth - 1):
            w = self.weights[h].astype(np.float64)
            wn = self.weights[h + 1].astype(np.float64)
            out.append(wn.T @ wn - w @ w.T)
        return out

    def euler_products(self, X, Y, *, threads=None) -> np.ndarray:
        """<W_h, dL/dW_h> (+ <b_h, dL/db_h>) for h = 1..L; all equal for a homogeneous net without
        biases (Euler's identity: sum_i <df/dW-directions> = <r, f>)."""
        _, gw, gb = self.gradients(X, Y, threads=threads)
        vals = [float(np.sum(w.astype(np.float64) * g)) for w, g in zip(self.weights, gw)]
        if gb is not None:
            vals = [v + float(np.sum(b.astype(np.float64) * g)) for v, b, g in zip(vals, self.biases, gb)]
        return np.array(vals)

    def state(self) -> dict:
        """Copies of the parameters: {"W1": ..., "WL": ..., "b1": ...} (1-based, as in the paper)."""
        st = {f"W{h + 1}": w.copy() for h, w in enumerate(self.weights)}
        for h, b in enumerate(self.biases or []):
            st[f"b{h + 1}"] = b.copy()
        return st

    def load_state(self, state: dict) -> None:
        """Copy a `state()` back into the parameter arrays (in place)."""
        for h, w in enumerate(self.weights):
            w[...] = state[f"W{h + 1}"]
        for h, b in enumerate(self.biases or []):
            b[...] = state[f"b{h + 1}"]

    def uses_gram(self, X, gram="auto") -> bool:
        """Whether training on X takes the N-independent path (linear, no biases, N > d_0 for "auto")."""
        choice("gram", gram, GRAM_CHOICES)
        n = np.shape(X)[0]
        eligible = self.activation == "linear" and self.biases is None
        if gram is True and not eligible:
            raise ValueError("gram: the N-independent path needs activation='linear' and no biases")
        return bool(gram is True or (gram == "auto" and eligible and n > self.dims[0]))

    # ------------------------------------------------------------------ training
    def _gd_engine(self, data, options):
        X, Y, offset, threads, metrics = self._training_data(data, options)
        return _DeepGD(self, X, Y, offset, threads, metrics)

    def _flow_engine(self, data, options):
        X, Y, offset, threads, metrics = self._training_data(data, options)
        tableau = options.pop("tableau")
        # ReLU / leaky ReLU: the event-aware flow (kinks located, sliding detected); False: the plain RK pair.
        # A linear net has no kinks: `events` has no effect there.
        events = _events.events_option(options)
        zeno = _events.zeno_options(options)
        if events and self.activation != "linear":
            gram0 = _gram0(self, metrics)
            fn = (lambda net: _deep_metrics(net, gram0, metrics)) if metrics else None
            return _deep_events.DeepEventFlow(self, X, Y, offset, tableau, fn, *zeno)
        return _DeepFlow(self, X, Y, offset, threads, metrics, tableau)

    def _training_data(self, data, options):
        """Checked (X, Y, loss offset, threads, metrics) for a run; deep linear nets with N > d_0 train on
        the N-independent reduced data (see uses_gram)."""
        data_args(self, data, ("X", "Y"))
        threads = threads_option(options.pop("threads", None))
        gram = options.pop("gram", "auto")
        metrics = metrics_option(options.pop("metrics", None), _available_metrics(self), "a DeepNet")
        self._check_arrays()
        X, Y = self._inputs(*data)
        offset = 0.0
        if self.uses_gram(X, gram):
            X, Y, offset = _reduce_linear_data(X, Y, self.dtype)
        return X, Y, offset, threads, metrics


def _reduce_linear_data(X, Y, dtype):
    """(R, Q^T Y, 1/2 ||Y - Q Q^T Y||^2) from a thin QR factorization X = Q R (in float64).

    For a linear net f(X) = X P^T the loss only sees X through X^T X = R^T R and X^T Y = R^T (Q^T Y):
        1/2 ||X P^T - Y||^2 = 1/2 ||R P^T - Q^T Y||^2 + 1/2 ||Y - Q Q^T Y||^2,
    so training on the d_0 "samples" (R, Q^T Y) gives the same gradients (to rounding) at a per-step cost
    that does not depend on N. The factored form keeps the loss accurate near a perfect fit (forming
    X^T X and subtracting would lose it to cancellation).
    """
    X64 = X.astype(np.float64)
    Y64 = Y.astype(np.float64)
    Q, R = np.linalg.qr(X64, mode="reduced")
    QtY = Q.T @ Y64
    resid = Y64 - Q @ QtY
    offset = 0.5 * float(np.sum(resid * resid))
    return np.ascontiguousarray(R, dtype=dtype), np.ascontiguousarray(QtY, dtype=dtype), offset


class _DeepGD(GDEngine):
    """Fused GD on a DeepNet: the weights are updated in place by the C++ kernel; every step's loss comes
    from its forward pass. Divergence safety: a copy of the weights taken on a time budget (see run_gd)."""

    def __init__(self, net: DeepNet, X, Y, offset: float, threads: int, metrics: tuple):
        self.net = net
        # holds the weight arrays (updated in place), X and Y, the workspaces and X packed once for the run
        self.trainer = _core.deep.trainer(*net._args(), X, Y, float(offset), threads)
        self.names = metrics
        self.has_metrics = bool(metrics)
        self.gram0 = _gram0(net, metrics)
        self.flops = 6.0 * X.shape[0] * sum(w.size for w in net.weights)

    def step_seconds_hint(self) -> float:
        return self.flops / 2e10 + 2e-6

    def loss(self) -> float:
        return float(self.trainer.loss())  # one forward pass

    def run(self, lrs, losses):
        r = self.trainer.run(lrs, losses)
        return int(r.steps_done), bool(r.diverged)

    def _arrays(self):
        return self.net.weights + (self.net.biases or [])

    def checkpoint_nbytes(self):
        return sum(a.nbytes for a in self._arrays())

    def checkpoint(self, into=None):
        if into is None:
            return [a.copy() for a in self._arrays()]
        for dst, src in zip(into, self._arrays()):
            np.copyto(dst, src)
        return into

    def restore(self, ck):
        for dst, src in zip(self._arrays(), ck):
            dst[...] = src

    def snapshot(self):
        return self.net.state()

    def metrics(self):
        return _deep_metrics(self.net, self.gram0, self.names)


def _available_metrics(net) -> tuple:
    names = ("layer_norms",) + (("neuron_invariants",) if net.depth > 1 else ())
    track = (
        net.activation == "linear"
        and net.biases is None
        and net.depth > 1
        and max(net.dims[1:-1]) <= _GRAM_METRIC_MAX_WIDTH
    )
    return names + (("gram_invariants", "gram_drift") if track else ())


def _gram0(net, metrics: tuple):
    """The initial matrix invariants W_{h+1}^T W_{h+1} - W_h W_h^T of a linear net (None when not tracked)."""
    return net.gram_invariants() if {"gram_invariants", "gram_drift"} & set(metrics) else None


def _deep_metrics(net, gram0, names) -> dict:
    """Per-record diagnostics of a deep-net run (GD or flow), those in `names`: layer_norms (||W_h||_F^2,
    one read of the weights), neuron_invariants (per hidden unit, one read), and for linear nets
    gram_invariants / gram_drift (||W_{h+1}^T W_{h+1} - W_h W_h^T||_F and its change: a d_h x d_h product
    per layer, O(sum_h d_h^2 d_{h-1}))."""
    out = {}
    if "layer_norms" in names:
        out["layer_norms"] = net.layer_norms()
    if "neuron_invariants" in names:
        out["neuron_invariants"] = np.concatenate(net.neuron_invariants())
    if gram0 is not None:
        g = net.gram_invariants()
        if "gram_invariants" in names:
            out["gram_invariants"] = np.array([np.linalg.norm(m) for m in g])
        if "gram_drift" in names:
            out["gram_drift"] = np.array([np.linalg.norm(m - m0) for m, m0 in zip(g, gram0)])
    return out


class _DeepFlow(FlowEngine):
    """Gradient flow of a DeepNet by an adaptive Runge-Kutta pair whose stages call the fused gradient kernel."""

    def __init__(self, net, X, Y, offset, threads, metrics, tableau):
        self.net, self.names, self.has_metrics = net, metrics, bool(metrics)
        self.gram0 = _gram0(net, metrics)
        cls = by_dtype(net.dtype, _core.deep.Flow64, _core.deep.Flow32)
        self.flow = cls(*net._args(), X, Y, offset, tableau, threads)

    def sync(self):
        self.flow.write_back(self.net.weights, self.net.biases or [])

    def snapshot(self):
        return self.net.state()

    def metrics(self):
        return _deep_metrics(self.net, self.gram0, self.names)
