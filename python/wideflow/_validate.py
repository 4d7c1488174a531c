"""Input checks shared by every public entry point.

Each helper names the user's argument in its message, so a bad call says what to fix.
"""

from __future__ import annotations

import numbers

import numpy as np

FLOAT_DTYPES = {"float64": np.float64, "float32": np.float32}


def dtype_of(dtype) -> np.dtype:
    """Normalize a dtype request ("float64", "float32", np.float32, ...) or raise naming `dtype`."""
    try:
        dt = np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"dtype: expected 'float64' or 'float32', got {dtype!r}") from exc
    if dt not in (np.dtype(np.float64), np.dtype(np.float32)):
        raise TypeError(f"dtype: expected 'float64' or 'float32', got {dt.name}")
    return dt


def finite_vector(name: str, values, dtype=np.float64, *, allow_empty: bool = False) -> np.ndarray:
    """A contiguous 1-d copy of `values` in `dtype`, all finite."""
    try:
        arr = np.array(values, dtype=dtype, copy=True)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name}: expected an array of real numbers ({exc})") from exc
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected a 1-d array, got shape {arr.shape}")
    if arr.size == 0 and not allow_empty:
        raise ValueError(f"{name}: is empty")
    if not np.all(np.isfinite(arr)):
        bad = int(np.flatnonzero(~np.isfinite(arr))[0])
        raise ValueError(f"{name}: contains a non-finite value at index {bad} ({arr[bad]})")
    return np.ascontiguousarray(arr)


def finite_matrix(name: str, values, dtype=np.float64, *, ndim: int = 2) -> np.ndarray:
    """A C-contiguous finite copy of an `ndim`-d array in `dtype`."""
    try:
        arr = np.array(values, dtype=dtype, copy=True)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name}: expected an array of real numbers ({exc})") from exc
    if arr.ndim != ndim:
        raise ValueError(f"{name}: expected a {ndim}-d array, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name}: is empty (shape {arr.shape})")
    if not np.all(np.isfinite(arr)):
        idx = tuple(int(i) for i in np.argwhere(~np.isfinite(arr))[0])
        raise ValueError(f"{name}: contains a non-finite value at {list(idx)} ({arr[idx]})")
    return np.ascontiguousarray(arr)


def threads_option(threads) -> int:
    """The `threads` argument of the kernels: None (all available, passed as 0) or a positive int."""
    if threads is None:
        return 0
    return positive_int("threads", threads)


def same_length(names: tuple[str, ...], *arrays: np.ndarray) -> None:
    lengths = [len(a) for a in arrays]
    if len(set(lengths)) > 1:
        desc = ", ".join(f"{n}={k}" for n, k in zip(names, lengths))
        raise ValueError(f"{' and '.join(names)}: lengths differ ({desc})")


def positive_int(name: str, value, *, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected an integer, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name}: must be >= {minimum}, got {value}")
    return int(value)


def positive_float(name: str, value, *, allow_zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a real number, got {type(value).__name__}")
    v = float(value)
    if not np.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        raise ValueError(f"{name}: must be {'>= 0' if allow_zero else '> 0'} and finite, got {value}")
    return v


def choice(name: str, value, options) -> str:
    if value not in options:
        raise ValueError(f"{name}: unknown value {value!r}; expected one of {', '.join(map(repr, options))}")
    return value


def inplace_array(name: str, arr, dtype: np.dtype, shape: tuple[int, ...]) -> None:
    """Check an array that a kernel updates in place: exact dtype, shape and C-contiguity."""
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"{name}: expected a NumPy array, got {type(arr).__name__}")
    if arr.dtype != dtype:
        raise TypeError(f"{name}: expected dtype {np.dtype(dtype).name}, got {arr.dtype.name}")
    if arr.shape != shape:
        raise ValueError(f"{name}: expected shape {shape}, got {arr.shape}")
    if not arr.flags.c_contiguous or not arr.flags.writeable:
        raise ValueError(f"{name}: must be a writeable C-contiguous array")
