"""Input checks shared by every public entry point.

Each helper names the user's argument in its message, so a bad call says what to fix.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

FLOAT_DTYPES = {"float64": np.float64, "float32": np.float32}
MAX_STEPS = 2**62  # recorded step indices are int64; beyond this they would wrap
MAX_ELEMENTS = 2**40  # the largest width / array size a model accepts (about 4 TB of float32)


def real_array(name: str, values: Any, dtype: Any) -> np.ndarray:
    """A copy of `values` as a real `dtype` array; complex input is refused (a cast would drop the
    imaginary part silently)."""
    try:
        if np.iscomplexobj(values):
            raise TypeError(f"{name}: expected real numbers, got a complex array")
        return np.array(values, dtype=dtype, copy=True)
    except (TypeError, ValueError, OverflowError) as exc:
        if str(exc).startswith(f"{name}: "):
            raise
        raise TypeError(f"{name}: expected an array of real numbers ({exc})") from exc


def dtype_of(dtype: Any) -> np.dtype:
    """Normalize a dtype request ("float64", "float32", np.float32, ...) or raise naming `dtype`."""
    try:
        dt: np.dtype = np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"dtype: expected 'float64' or 'float32', got {dtype!r}") from exc
    if dt not in (np.dtype(np.float64), np.dtype(np.float32)):
        raise TypeError(f"dtype: expected 'float64' or 'float32', got {dt.name}")
    return dt


def finite_vector(name: str, values: Any, dtype: Any = np.float64, *, allow_empty: bool = False) -> np.ndarray:
    """A contiguous 1-d copy of `values` in `dtype`, all finite."""
    arr = real_array(name, values, dtype)
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


def finite_matrix(name: str, values: Any, dtype: Any = np.float64, *, ndim: int = 2) -> np.ndarray:
    """A C-contiguous finite copy of an `ndim`-d array in `dtype`."""
    arr = real_array(name, values, dtype)
    if arr.ndim != ndim:
        raise ValueError(f"{name}: expected a {ndim}-d array, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name}: is empty (shape {arr.shape})")
    if not np.all(np.isfinite(arr)):
        idx = tuple(int(i) for i in np.argwhere(~np.isfinite(arr))[0])
        raise ValueError(f"{name}: contains a non-finite value at {list(idx)} ({arr[idx]})")
    return np.ascontiguousarray(arr)


def threads_option(threads: Any) -> int:
    """The `threads` argument of the kernels: None (all available, passed as 0) or a positive int."""
    if threads is None:
        return 0
    return positive_int("threads", threads)


def same_length(names: tuple[str, ...], *arrays: Any) -> None:
    lengths = [len(a) for a in arrays]
    if len(set(lengths)) > 1:
        desc = ", ".join(f"{n}={k}" for n, k in zip(names, lengths))
        raise ValueError(f"{' and '.join(names)}: lengths differ ({desc})")


def positive_int(name: str, value: Any, *, minimum: int = 1, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected an integer, got {type(value).__name__} ({value!r})")
    v = int(value)
    if v < minimum:
        raise ValueError(f"{name}: must be >= {minimum}, got {value}")
    if maximum is not None and v > maximum:
        raise ValueError(f"{name}: must be <= {maximum}, got {value}")
    return v


def flag(name: str, value: Any, *, allow_none: bool = False) -> Any:
    """A True/False option (NumPy bools too); None too when allow_none. Anything else raises naming it."""
    if value is None and allow_none:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise TypeError(f"{name}: expected True or False{' or None' if allow_none else ''}, got {value!r}")


def seed_value(seed: Any) -> int | np.random.SeedSequence | np.random.Generator | None:
    """The `seed` of a random init: None, a non-negative integer, or a NumPy SeedSequence / Generator."""
    if seed is None or isinstance(seed, (np.random.SeedSequence, np.random.Generator)):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed: expected None or a non-negative integer, got {type(seed).__name__} ({seed!r})")
    if seed < 0:
        raise ValueError(f"seed: must be a non-negative integer, got {seed}")
    return int(seed)


def model_array(name: str, arr: Any, dtype: Any, shape: tuple[int, ...]) -> None:
    """Check a model's parameter array before a kernel reads or writes it in place (users may replace or
    edit these arrays): a NumPy array of exactly `dtype` and `shape`, writeable, C-contiguous, finite."""
    inplace_array(name, arr, dtype, shape)
    if not np.all(np.isfinite(arr)):
        idx = tuple(int(i) for i in np.argwhere(~np.isfinite(arr))[0])
        where = f"index {idx[0]}" if len(idx) == 1 else f"{list(idx)}"
        raise ValueError(f"{name}: contains a non-finite value at {where} ({arr[idx]})")


def positive_float(name: str, value: Any, *, allow_zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a real number, got {type(value).__name__}")
    try:
        v = float(value)
    except OverflowError:  # an int beyond the float range
        v = float("inf")
    if not np.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        raise ValueError(f"{name}: must be {'>= 0' if allow_zero else '> 0'} and finite, got {value}")
    return v


def choice(name: str, value: Any, options: Sequence[Any]) -> Any:
    # exact type and value (an array, or 1 for True, is not an option)
    if not any(type(value) is type(o) and value == o for o in options):
        raise ValueError(f"{name}: unknown value {value!r}; expected one of {', '.join(map(repr, options))}")
    return value


def inplace_array(name: str, arr: Any, dtype: Any, shape: tuple[int, ...]) -> None:
    """Check an array that a kernel updates in place: exact dtype, shape and C-contiguity."""
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"{name}: expected a NumPy array, got {type(arr).__name__}")
    if arr.dtype != dtype:
        raise TypeError(f"{name}: expected dtype {np.dtype(dtype).name}, got {arr.dtype.name}")
    if arr.shape != shape:
        raise ValueError(f"{name}: expected shape {shape}, got {arr.shape}")
    if not arr.flags.c_contiguous or not arr.flags.writeable:
        raise ValueError(
            f"{name}: must be a writeable C-contiguous array (assign into it, e.g. arr[...] = "
            "values, rather than replacing it)"
        )


# ---------------------------------------------------------------------------------------------- float64 inputs
# The theory packages (limits, linear_theory) take any real array-like and compute in float64. One rule for
# every check here and above: what is not the right kind of value (None, a string, an object or complex
# array, a bool or a float where an integer is expected) is a TypeError; a value of the right kind out of
# range (shape, emptiness, non-finite, sign, bounds) is a ValueError. Every message starts with the name.


def float64_array(
    name: str,
    values: Any,
    *,
    ndim: int | None = None,
    allow_empty: bool = False,
    nonneg: bool = False,
    positive: bool = False,
) -> np.ndarray:
    """A float64 copy of `values` (any shape, or exactly `ndim` dimensions), all finite, non-empty unless
    `allow_empty`, optionally >= 0 or > 0."""
    if values is None or isinstance(values, (str, bytes)):
        raise TypeError(f"{name}: expected an array of real numbers, got {type(values).__name__}")
    try:
        arr = np.asarray(values)
    except (TypeError, ValueError) as exc:  # ragged nested sequences
        raise TypeError(f"{name}: expected an array of real numbers ({exc})") from exc
    if arr.dtype == object or arr.dtype.kind not in "biuf":
        raise TypeError(f"{name}: expected an array of real numbers, got dtype {arr.dtype}")
    arr = np.array(arr, dtype=np.float64, copy=True)
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name}: expected a {ndim}-d array, got shape {arr.shape}")
    if arr.size == 0 and not allow_empty:
        raise ValueError(f"{name}: is empty")
    if not np.all(np.isfinite(arr)):
        bad = int(np.flatnonzero(~np.isfinite(arr.ravel()))[0])
        raise ValueError(f"{name}: contains a non-finite value at flat index {bad}")
    if positive and np.any(arr <= 0):
        raise ValueError(f"{name}: must be > 0")
    if nonneg and np.any(arr < 0):
        raise ValueError(f"{name}: must be >= 0")
    return arr


def real_number(name: str, value: Any, *, nonneg: bool = False, positive: bool = False) -> float:
    """A finite real number (a Python or NumPy scalar, or a 0-d array; not a bool) as a float, optionally
    >= 0 or > 0."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        arr = value if isinstance(value, np.ndarray) else None
        if arr is None or arr.ndim != 0 or arr.dtype.kind not in "iuf":
            raise TypeError(f"{name}: expected a real number, got {type(value).__name__} ({value!r})")
        value = arr.item()
    try:
        v = float(value)
    except OverflowError:  # an int beyond the float range
        v = float("inf") if value > 0 else float("-inf")
    if not np.isfinite(v):
        raise ValueError(f"{name}: must be finite, got {v}")
    if positive and not v > 0:
        raise ValueError(f"{name}: must be > 0, got {v}")
    if nonneg and not v >= 0:
        raise ValueError(f"{name}: must be >= 0, got {v}")
    return v


def callable_arg(name: str, f: Any) -> Any:
    """`f` itself if it is callable (a function, a fitted interpolant, ...)."""
    if not callable(f):
        raise TypeError(f"{name}: expected a callable, got {type(f).__name__}")
    return f
