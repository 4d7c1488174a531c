"""Reports of a store: a summary table and the standard plots (`wideflow report DIR`).

Written to DIR/report/ (or `out`):
    summary.md        the table (one row per group of runs that differ only by seed) and the failed runs
    runs.csv          every run: config fields and metrics
    loss_curves.png/.pdf      loss against step for every run (diverged runs dashed)
    metrics.png/.pdf          headline metrics against the swept field (width if it varies), mean over seeds
                              with min-max bars, one line per combination of the other swept fields
    width_scaling.png/.pdf    distance to each limit against width on log-log axes with the fitted slope
                              (when width takes >= 3 values)

The store may come from someone else: rows that cannot be decoded are listed as skipped (by run id) and
left out, rows of a model without a registered runner too; file names are built only from fixed names and
registered model names, every file is written to a temporary file in the report folder and renamed (a
link in its place is replaced, never followed), and the default report folder inside the store must not
be a link.
"""

from __future__ import annotations

import csv
import json
import math
import os
import sys
import warnings
from collections import defaultdict

import numpy as np

from ..experiments._report import fit_power_law, fmt, markdown_table, save_figure, write_file
from . import runners
from .files import CorruptRecord, CorruptRecordWarning, check_inside, refuse_link
from .store import open_store

MAX_CURVES = 300
MAX_LINES = 10
LIMIT_LABELS = {
    "dist_kernel_sup": "infinite-width net (same steps)",
    "dist_ncs_sup": "natural cubic spline",
    "dist_linear_sup": "linear interpolant",
}


def _key(v) -> str:
    return json.dumps(v, sort_keys=True)


def _num(v) -> float:
    if isinstance(v, bool) or v is None:
        return math.nan
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def _fmt(v) -> str:
    return fmt(v, ".3g", missing="nan")


def varying_fields(records) -> list[str]:
    """Config fields that take more than one value among `records`, in sorted order."""
    values = defaultdict(set)
    for r in records:
        for k, v in r["config"].items():
            values[k].add(_key(v))
    return sorted(k for k, vs in values.items() if len(vs) > 1)


def _headline(model: str, records) -> list[str]:
    runner = runners.RUNNERS.get(model)
    names = (
        list(runner.summary)
        if runner is not None and runner.summary
        else sorted({k for r in records for k, v in r["metrics"].items() if isinstance(v, (int, float))})[:6]
    )
    # keep the metrics that have at least one finite value
    return [n for n in names if any(math.isfinite(_num(r["metrics"].get(n))) for r in records)]


def _groups(records, keys):
    groups = defaultdict(list)
    for r in records:
        groups[tuple(_key(r["config"].get(k)) for k in keys)].append(r)
    return sorted(groups.items(), key=lambda kv: [_sort_key(json.loads(s)) for s in kv[0]])


def _sort_key(v):
    return (0, float(v), "") if isinstance(v, (int, float)) and not isinstance(v, bool) else (1, 0.0, str(v))


def summary_table(records, model: str) -> tuple[list[str], list[list[str]]]:
    """(header, rows): one row per group of runs differing only by seed; metrics are means over the
    runs that finished (done or diverged)."""
    keys = [k for k in varying_fields(records) if k != "seed"]
    metrics = _headline(model, records)
    header = keys + ["runs", "status"] + metrics
    rows = []
    for gkey, rs in _groups(records, keys):
        counts: defaultdict[str, int] = defaultdict(int)
        for r in rs:
            counts[r["status"]] += 1
        status = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        ok = [r for r in rs if r["status"] != "failed"]
        vals = []
        for m in metrics:
            xs = [_num(r["metrics"].get(m)) for r in ok]
            xs = [x for x in xs if math.isfinite(x)]
            vals.append(_fmt(float(np.mean(xs))) if xs else "-")
        rows.append([_fmt(json.loads(s)) for s in gkey] + [str(len(rs)), status] + vals)
    return header, rows


def plot_width_scaling(ax, widths, values, *, label: str = "", color=None):
    """Distance to a limit against width, log-log: every run as a dot, the geometric mean per width
    (solid) and the fitted power law (dotted), the slope in the legend. Returns the fitted slope."""
    w = np.asarray(widths, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    ok = np.isfinite(w) & np.isfinite(v) & (w > 0) & (v > 0)
    w, v = w[ok], v[ok]
    if w.size == 0:
        return math.nan
    uw = np.unique(w)
    slope, prefactor = fit_power_law(w, v) if uw.size >= 2 else (math.nan, math.nan)
    means = np.array([np.exp(np.mean(np.log(v[w == x]))) for x in uw])
    text = f"slope {slope:.2f}" if math.isfinite(slope) else "no fit"
    (line,) = ax.loglog(uw, means, "-", color=color, lw=1.2, label=f"{label}: {text}" if label else text)
    ax.loglog(w, v, "o", ms=3, alpha=0.35, color=line.get_color())
    if math.isfinite(slope):
        ax.loglog(uw, prefactor * uw**slope, ":", color=line.get_color(), lw=1.0)
    ax.set_xlabel("width m")
    return slope


def reference_slope(ax, widths, start: float, slope: float = -0.5):
    """A dashed grey power law m^slope through (min width, start), labelled."""
    uw = np.unique(np.asarray(widths, dtype=np.float64))
    if uw.size >= 2 and start > 0:
        ax.loglog(uw, start * (uw / uw[0]) ** slope, "--", color="0.6", lw=0.8, label=f"m^{slope:g}")


def _write_csv(path, records):
    cfg_keys = sorted({k for r in records for k in r["config"]})
    met_keys = sorted({k for r in records for k in r["metrics"]})
    cols = (
        ["id", "model", "status", "error"]
        + cfg_keys
        + [m if m not in cfg_keys else f"metric_{m}" for m in met_keys]
        + ["wall_time"]
    )
    write_file(path, lambda fh: _csv_rows(fh, cols, cfg_keys, met_keys, records), binary=False)


def _csv_rows(fh, cols, cfg_keys, met_keys, records):
    w = csv.writer(fh)
    w.writerow(cols)
    for r in records:
        w.writerow(
            [r["id"], r["model"], r["status"], ((r["error"] or "").splitlines() or [""])[0]]
            + [_fmt(r["config"].get(k, "")) for k in cfg_keys]
            + [_fmt(r["metrics"].get(k, "")) for k in met_keys]
            + [_fmt(r["wall_time"])]
        )


def _label(keys, gkey) -> str:
    return ", ".join(f"{k}={_fmt(json.loads(s))}" for k, s in zip(keys, gkey))


def _x_field(records, keys) -> str | None:
    if "width" in keys:
        return "width"
    for k in keys:
        if all(math.isfinite(_num(r["config"].get(k))) for r in records):
            return k
    return None


def _curve_ok(tr) -> bool:
    """A trajectory with 1-d numeric `steps` and `loss` of one length (a crafted blob may hold anything)."""
    s, lo = tr.get("steps"), tr.get("loss")
    return (
        s is not None
        and lo is not None
        and np.ndim(s) == 1
        and np.shape(s) == np.shape(lo)
        and s.dtype.kind in "iuf"
        and lo.dtype.kind in "iuf"
    )


def _plot_loss_curves(store, records, keys, plotting, path, bad):
    fig, axes = plotting.figure(1, 1, width=6.0, height=4.0)
    ax = axes[0, 0]
    shown = (
        records
        if len(records) <= MAX_CURVES
        else [records[i] for i in np.linspace(0, len(records) - 1, MAX_CURVES).astype(int)]
    )
    color_key = keys[0] if keys else None
    levels = (
        sorted({_key(r["config"].get(color_key)) for r in records}, key=lambda s: _sort_key(json.loads(s)))
        if color_key
        else []
    )
    import matplotlib

    cmap = matplotlib.colormaps["viridis"]
    labeled = set()
    for r in shown:
        if r["status"] == "failed":
            continue
        try:
            tr = store.trajectory(r["id"])
        except CorruptRecord as exc:
            bad[r["id"]] = str(exc)
            continue
        if not _curve_ok(tr):
            continue
        lvl = _key(r["config"].get(color_key)) if color_key else ""
        color = cmap(levels.index(lvl) / max(1, len(levels) - 1)) if color_key else "C0"
        label = None
        if color_key and lvl not in labeled and len(levels) <= 12:
            label, _ = f"{color_key}={_fmt(json.loads(lvl))}", labeled.add(lvl)
        ax.loglog(
            np.maximum(tr["steps"], 1),
            np.maximum(tr["loss"], 1e-300),
            color=color,
            lw=0.8,
            alpha=0.7,
            ls="--" if r["status"] == "diverged" else "-",
            label=label,
        )
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(f"loss curves ({len(shown)} of {len(records)} runs; diverged dashed)", fontsize=9)
    if labeled:
        ax.legend(fontsize=7, frameon=False)
    return save_figure(fig, path)


def _plot_metrics(records, keys, metrics, xk, plotting, path):
    others = [k for k in keys if k not in (xk, "seed")]
    ncols = min(3, len(metrics))
    nrows = math.ceil(len(metrics) / ncols)
    fig, axes = plotting.figure(ncols, nrows, width=3.6, height=2.9)
    groups = _groups([r for r in records if r["status"] != "failed"], others)[:MAX_LINES]
    for i, m in enumerate(metrics):
        ax = axes[i // ncols, i % ncols]
        allx, ally = [], []
        for gkey, rs in groups:
            by_x = defaultdict(list)
            for r in rs:
                y = _num(r["metrics"].get(m))
                if math.isfinite(y):
                    by_x[_num(r["config"].get(xk))].append(y)
            if not by_x:
                continue
            xs = np.array(sorted(by_x))
            mean = np.array([np.mean(by_x[x]) for x in xs])
            lo = mean - np.array([np.min(by_x[x]) for x in xs])
            hi = np.array([np.max(by_x[x]) for x in xs]) - mean
            ax.errorbar(
                xs, mean, yerr=[lo, hi], marker="o", ms=3, lw=1.0, capsize=2, label=_label(others, gkey) or None
            )
            allx += list(xs)
            ally += [y for ys in by_x.values() for y in ys]
        if allx and min(allx) > 0 and max(allx) / min(allx) > 20:
            ax.set_xscale("log")
        if ally and min(ally) > 0 and max(ally) / min(ally) > 20:
            ax.set_yscale("log")
        ax.set_xlabel(xk)
        ax.set_title(m, fontsize=9)
        if i == 0 and others and len(groups) > 1:
            ax.legend(fontsize=6, frameon=False)
    for j in range(len(metrics), nrows * ncols):
        axes[j // ncols, j % ncols].set_visible(False)
    return save_figure(fig, path)


def _plot_width_scaling(records, keys, plotting, path):
    limits = [
        m
        for m in LIMIT_LABELS
        if any(math.isfinite(_num(r["metrics"].get(m))) and _num(r["metrics"].get(m)) > 0 for r in records)
    ]
    if not limits:
        return [], {}
    others = [k for k in keys if k not in ("width", "seed")]
    fig, axes = plotting.figure(len(limits), 1, width=4.2, height=3.4)
    groups = _groups([r for r in records if r["status"] == "done"], others)[:MAX_LINES]
    slopes = {}
    for i, m in enumerate(limits):
        ax = axes[0, i]
        first = None
        for gkey, rs in groups:
            label = _label(others, gkey)
            ws, vs = [_num(r["config"].get("width")) for r in rs], [_num(r["metrics"].get(m)) for r in rs]
            slopes[(m, label)] = plot_width_scaling(ax, ws, vs, label=label)
            if first is None:
                ok = [(w, v) for w, v in zip(ws, vs) if math.isfinite(v) and v > 0]
                first = (ws, min(ok)[1]) if ok else None
        if first is not None and m == "dist_kernel_sup":  # the Monte-Carlo rate theory predicts
            reference_slope(ax, first[0], first[1])
        ax.set_ylabel(m)
        ax.set_title(f"sup distance to the {LIMIT_LABELS[m]}", fontsize=9)
        ax.legend(fontsize=6, frameon=False)
    return save_figure(fig, path), slopes


def build_lines(store) -> list[str]:
    """Markdown lines listing the builds (version, git revision, compiler, native or portable) that wrote the store."""
    from .provenance import describe

    builds = store.builds()
    if not builds:
        return []
    return ["", "Builds that wrote this store:", ""] + [f"- {describe(b['build'])}: {b['runs']} runs" for b in builds]


def report(path, out: str | None = None, *, stream=None) -> dict:
    """Write the summary table and standard plots of the store at `path` into `out` (default
    path/report). Returns {"files": [...], "table": markdown, "slopes": {(metric, group): slope}}."""
    from .. import plotting

    stream = sys.stdout if stream is None else stream
    store = open_store(path)
    try:
        if out is None:  # the default folder inside the store: no link, and it must resolve inside
            out = os.path.join(store.root, "report")
            refuse_link(out, "out")
            if not os.path.isdir(out):
                os.mkdir(out)
            check_inside(store.root, out, "out")
        out = os.path.abspath(out)
        os.makedirs(out, exist_ok=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CorruptRecordWarning)
            records = store.records()
        skipped = dict(store.skipped)
        known = [r for r in records if r["model"] in runners.RUNNERS]
        for r in records:
            if r["model"] not in runners.RUNNERS:
                skipped[r["id"]] = f"model {r['model']!r} has no registered runner in this version"
        records = known
        files, parts, slopes = [], [f"# wideflow report: {store.root}", "", f"{len(records)} stored runs."], {}
        if not records:
            print(f"{store.root}: the store holds no runs" + (" that can be read" if skipped else ""), file=stream)
        parts += build_lines(store)
        by_model = defaultdict(list)
        for r in records:
            by_model[r["model"]].append(r)
        for model, recs in sorted(by_model.items()):
            tag = "" if len(by_model) == 1 else f"_{model}"  # a registered runner's name: a plain identifier
            keys = varying_fields(recs)
            header, rows = summary_table(recs, model)
            table = markdown_table(header, rows)
            parts += ["", f"## {model}: {len(recs)} runs", "", f"Swept: {', '.join(keys) or 'nothing'}.", "", table]
            failed = [r for r in recs if r["status"] == "failed"]
            if failed:
                parts += ["", "Failed runs:", ""] + [
                    f"- {r['id']}: {((r['error'] or '').splitlines() or [''])[0]}" for r in failed[:50]
                ]
            print(f"{model}: {len(recs)} runs in {store.root}\n{table}", file=stream)
            files += _plot_loss_curves(
                store, recs, [k for k in keys if k != "seed"], plotting, os.path.join(out, f"loss_curves{tag}"), skipped
            )
            metrics = _headline(model, recs)
            xk = _x_field(recs, keys)
            if xk is not None and metrics:
                files += _plot_metrics(recs, keys, metrics, xk, plotting, os.path.join(out, f"metrics{tag}"))
            widths = {_key(r["config"].get("width")) for r in recs}
            if "width" in keys and len(widths) >= 3:
                f, s = _plot_width_scaling(recs, keys, plotting, os.path.join(out, f"width_scaling{tag}"))
                files += f
                slopes.update(s)
                if s:
                    parts += ["", "Fitted log-log slopes against width:", ""] + [
                        f"- {m}{' (' + g + ')' if g else ''}: {_fmt(v)}" for (m, g), v in s.items()
                    ]
        if skipped:
            parts += ["", f"Skipped {len(skipped)} unreadable record(s):", ""] + [
                f"- {k}: {v}" for k, v in sorted(skipped.items())[:200]
            ]
            for k, v in sorted(skipped.items()):
                print(f"report: skipped {k}: {v}", file=stream)
        summary = "\n".join(parts) + "\n"
        files.append(write_file(os.path.join(out, "summary.md"), lambda fh: fh.write(summary), binary=False))
        if records:
            _write_csv(os.path.join(out, "runs.csv"), records)
            files.append(os.path.join(out, "runs.csv"))
        for (m, g), v in slopes.items():
            print(f"slope of {m} against width{' (' + g + ')' if g else ''}: {_fmt(v)}", file=stream)
        print(f"report: wrote {len(files)} files to {out}", file=stream)
        return {"files": files, "table": "\n".join(parts), "slopes": slopes, "skipped": skipped}
    finally:
        store.close()
