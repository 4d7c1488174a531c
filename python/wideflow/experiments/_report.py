"""What every report of wideflow writes, written once: markdown tables, number formats, figures (PNG + PDF,
written atomically) and power-law / exponential-rate fits. Used by the three paper analyses
(`wideflow.experiments.<paper>`) and by `wideflow report` (`wideflow.sweeps.report`).
"""

from __future__ import annotations

import math
import os
import re

import numpy as np

from ..plotting import figure, fit_power_law

__all__ = [
    "fmt",
    "num",
    "sci",
    "check",
    "markdown_table",
    "figure",
    "save_figure",
    "write_text",
    "write_file",
    "fit_power_law",
    "fit_rate",
    "first_below",
]

_FILE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,200}")


def fmt(value, spec: str = ".3g", missing: str = "n/a") -> str:
    """A number in a table cell: `format(value, spec)`; None / NaN -> `missing`; inf -> "inf"; strings and
    booleans as they are; integers exactly (`str`, or `format` with an integer spec "d" / ",")."""
    if value is None:
        return missing
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return format(int(value), spec) if spec in ("", ",", "d", ",d") else str(int(value))
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(v):
        return missing
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return format(v, spec)


def num(value, digits: int = 3) -> str:
    """A number that may be tiny or huge: scientific below 1e-3 and from 1e5 on (`digits` decimals), else
    `digits` + 1 significant digits; booleans yes / no, integers exactly, None -> "-"."""
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    v = float(value)
    if not math.isfinite(v):
        return str(v)
    if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e5):
        return f"{v:.{digits}e}"
    return f"{v:.{digits + 1}g}"


def sci(value, digits: int = 1) -> str:
    """Scientific notation with `digits` decimals (1.2e-03); None / NaN -> n/a."""
    return fmt(value, f".{digits}e")


def check(ok: bool) -> str:
    """The word an acceptance line starts with."""
    return "PASS" if ok else "NOT MET"


def markdown_table(header, rows) -> str:
    """A GitHub markdown table, columns padded to their widest cell (cells are converted with str)."""
    header = [str(h) for h in header]
    rows = [[str(c) for c in r] for r in rows]
    widths = [max([len(h)] + [len(r[i]) for r in rows if i < len(r)]) for i, h in enumerate(header)]

    def line(cells):
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"

    return "\n".join([line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"] + [line(r) for r in rows])


def write_file(path: str, write, *, binary: bool = True) -> str:
    """Write `path` by calling write(fh) on a temporary file in its folder (created exclusively), renamed
    over it: a reader never sees half a file, and a link planted at `path` is replaced, not followed. The
    name must be a plain file name."""
    from ..sweeps.files import replace_atomically

    name = os.path.basename(path)
    if not _FILE_NAME.fullmatch(name) or ".." in name:
        raise ValueError(f"out: refusing to write a file named {name!r}")
    return replace_atomically(path, write, binary=binary, prefix=".report.")


def save_figure(fig, path: str, dpi: int = 150) -> list[str]:
    """Write `path`.png and `path`.pdf (path without extension), each through a temporary file renamed over
    it (a reader never sees half a figure; a link planted at the name is replaced, not followed)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)) or ".", exist_ok=True)
    return [
        write_file(f"{path}.{ext}", lambda fh, ext=ext: fig.savefig(fh, format=ext, dpi=dpi), binary=True)
        for ext in ("png", "pdf")
    ]


def write_text(path: str, text: str) -> str:
    """Write a text file atomically (UTF-8)."""
    return write_file(path, lambda fh: fh.write(text.encode("utf-8")), binary=True)


def fit_rate(t, values, lo: float = 1e-11, hi: float = 1e-6, min_points: int = 5) -> float:
    """The exponential rate r of values ~ C exp(-r t), least squares of log(values) against t over the
    points with lo < value < hi (the late, linear-convergence part of an error curve); NaN with fewer than
    `min_points` such points. For t = step indices, exp(-r) is the contraction factor per step."""
    t = np.asarray(t, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    keep = np.isfinite(t) & np.isfinite(v) & (v > lo) & (v < hi)
    if np.count_nonzero(keep) < min_points:
        return math.nan
    return float(-np.polyfit(t[keep], np.log(v[keep]), 1)[0])


def first_below(t, values, level: float) -> float:
    """The first t at which values < level (NaN if never)."""
    v = np.asarray(values, dtype=np.float64)
    idx = np.flatnonzero(v < level)
    return float(np.asarray(t, dtype=np.float64)[idx[0]]) if idx.size else math.nan
