"""Input checks of the limits package: the shapes of interpolation data and of nets (the generic checks
are those of `wideflow._validate`, with its one rule: a wrong kind of value is a TypeError, a value out of
range a ValueError, and the message starts with the argument's name)."""

from __future__ import annotations

import numpy as np

from .._validate import float64_array, same_length


def _real_array(name, values):
    """float64 array of any shape (empty allowed), all finite."""
    return float64_array(name, values, allow_empty=True)


def _vector(name, values, *, min_len=1):
    """1-d float64 copy of `values` (a scalar becomes length 1), finite, at least `min_len` long."""
    arr = np.array(_real_array(name, values), dtype=np.float64, copy=True)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected a 1-d array, got shape {arr.shape}")
    if arr.size < min_len:
        if arr.size == 0:
            raise ValueError(f"{name}: is empty")
        raise ValueError(f"{name}: needs at least {min_len} points, got {arr.size}")
    return arr


def _data(x, y, *, min_len=2, xname="x", yname="y"):
    """Sorted copies of interpolation data; duplicates in x are rejected."""
    x = _vector(xname, x, min_len=min_len)
    y = _vector(yname, y, min_len=1)
    same_length((xname, yname), x, y)
    order = np.argsort(x, kind="stable")
    x, y = x[order], y[order]
    if x.size > 1 and np.any(np.diff(x) == 0):
        dup = x[np.flatnonzero(np.diff(x) == 0)[0]]
        raise ValueError(f"{xname}: duplicate abscissa {dup!r}; interpolation points must be distinct")
    return x, y


def _points(values, name="x"):
    """Evaluation points: any shape, finite."""
    return _real_array(name, values)


def _is_net(obj):
    return all(hasattr(obj, k) for k in ("a", "b", "c")) and not isinstance(obj, np.ndarray)


def _unpack(func, values, groups):
    """Duck-typed argument parsing for the measurement functions.

    `values` are the positional slots of the public signature, in order; `groups` is a list whose
    items are either ``("net", (field, ...))`` -- filled by ONE net-like object (attributes
    ``.a .b .c [.alpha]``) or by ``len(fields)`` separate arrays -- or a plain argument name.
    The non-None values are consumed left to right, so ``knot_mass_fraction(net, x)`` and
    ``knot_mass_fraction(a, b, c, x)`` (and keyword forms of the trailing arguments) both work.
    Returns a flat list of values in group order.
    """
    vals = [v for v in values if v is not None]
    out = []
    k = 0
    for group in groups:
        if isinstance(group, tuple) and group[0] == "net":
            fields = group[1]
            if k < len(vals) and _is_net(vals[k]):
                net = vals[k]
                k += 1
                for fld in fields:
                    if not hasattr(net, fld):
                        raise TypeError(f"{func}: net object has no attribute {fld!r}")
                    out.append(getattr(net, fld))
            else:
                for fld in fields:
                    if k >= len(vals):
                        raise TypeError(f"{func}: missing argument {fld!r}")
                    out.append(vals[k])
                    k += 1
        else:
            if k >= len(vals):
                raise TypeError(f"{func}: missing argument {group!r}")
            out.append(vals[k])
            k += 1
    if k != len(vals):
        raise TypeError(f"{func}: {len(vals) - k} unexpected extra positional argument(s)")
    return out


def _params(names, *arrays):
    """Validate per-neuron parameter vectors (same length, finite, float64)."""
    vecs = [_vector(nm, arr) for nm, arr in zip(names, arrays)]
    same_length(names, *vecs)
    return vecs


def _knots(a, b):
    """e_i = -b_i/a_i, NaN where a_i == 0 (the neuron is constant in x: no knot)."""
    e = np.full(a.shape, np.nan)
    nz = a != 0
    e[nz] = -b[nz] / a[nz]
    return e


def _min_dist_sorted(xs, t):
    """min_j |t - xs_j| for sorted xs."""
    idx = np.searchsorted(xs, t)
    left = xs[np.clip(idx - 1, 0, xs.size - 1)]
    right = xs[np.clip(idx, 0, xs.size - 1)]
    return np.minimum(np.abs(t - left), np.abs(t - right))
