"""A paper reproduction as a study: bundled specs, quick overrides, one store, an analysis of the store.

Each paper package ``wideflow.experiments.<paper>`` holds ``specs/<section>.toml`` (the full study, one
sweep spec per section, shipped with the package) and ``specs/quick.toml`` (per section, the fields that
``--quick`` changes: ``[<section>.fixed]``, ``[<section>.grid]``, ``<section>.cases``). `run_study` runs
every section into ``DIR/wideflow.sqlite`` with one executor (the sweeps are recorded in the store as
``<paper>:<section>``, so the store knows what it holds; a run shared by two sections is run once), then
any sections the paper derives from stored results (e.g. flow runs at the flow time of stored GD runs),
then the paper's analysis, which reads only the store (`StudyData`) and writes figures and report.md.
Runs already stored are skipped, so a killed reproduction resumes and a finished one only redraws.

Overrides (``--set``): ``KEY=VALUE`` / ``fixed.KEY=VALUE`` / ``grid.KEY=[...]`` apply to every section whose
model has that field; ``SECTION:KEY=VALUE`` to one section.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from ..sweeps.spec import SpecError, Sweep, apply_overrides, parse_override

HERE = os.path.dirname(os.path.abspath(__file__))


@dataclass(frozen=True)
class Study:
    """A paper's study: its sections (spec stems, run in this order), an optional `derive(data, quick,
    overrides)` that returns further sweeps built from stored results (their sections: `derived_sections`,
    with a template spec file each), and `analyze(data, out_dir, started=...) -> report path`."""

    paper: str
    title: str
    sections: tuple
    analyze: Callable
    derive: Callable | None = None
    derived_sections: tuple = ()


def spec_dir(paper: str) -> str:
    return os.path.join(HERE, paper, "specs")


def _quick_table(paper: str) -> dict:
    path = os.path.join(spec_dir(paper), "quick.toml")
    if not os.path.isfile(path):
        return {}
    return Sweep.from_toml_data(path)


def _merge(data: dict, change: dict, where: str) -> dict:
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in data.items()}
    for table in ("fixed", "grid"):
        out.setdefault(table, {})
    for key, value in change.items():
        if key in ("fixed", "grid"):
            other = "grid" if key == "fixed" else "fixed"
            for k, v in value.items():
                out[other].pop(k, None)
                out[key][k] = v
        elif key == "cases":
            out["cases"] = value
        else:
            raise SpecError(f"{where}.{key}", "a quick table holds fixed, grid and cases only")
    return out


def split_overrides(study: Study, overrides) -> dict:
    """{section: [KEY=VALUE, ...]} from ``--set`` strings (see the module docstring)."""
    from ..sweeps import runners

    out: dict = {s: [] for s in study.sections + study.derived_sections}
    for text in overrides or ():
        if not isinstance(text, str):
            raise SpecError("--set", f"expected KEY=VALUE, got {text!r}")
        head = text.split("=", 1)[0]
        if ":" in head:
            section, rest = text.split(":", 1)
            if section not in out:
                raise SpecError(
                    "--set", f"{text!r}: {study.paper} has no section {section!r}; sections: {', '.join(out)}"
                )
            out[section].append(rest)
            continue
        path, _ = parse_override(text)
        name = path[-1]
        hit = False
        for section in out:
            model = _section_model(study, section)
            if model is None or name in runners.get(model).fields or path[0] in ("model", "cases"):
                out[section].append(text)
                hit = True
        if not hit:
            raise SpecError("--set", f"{text!r}: no section of {study.paper} has a field {name!r}")
    return out


def _section_model(study: Study, section: str) -> str | None:
    path = os.path.join(spec_dir(study.paper), f"{section}.toml")
    if not os.path.isfile(path):
        return None  # a derived section: it takes the overrides of the section it is built from
    return Sweep.from_toml_data(path).get("model")


def load_section(study: Study, section: str, quick: bool = False, overrides=None) -> Sweep:
    """The validated sweep of one section (quick overrides, then ``--set`` overrides), named paper:section."""
    path = os.path.join(spec_dir(study.paper), f"{section}.toml")
    data = Sweep.from_toml_data(path)
    if quick:
        change = _quick_table(study.paper).get(section)
        if change:
            data = _merge(data, change, f"quick.{section}")
    if overrides:
        data = apply_overrides(data, overrides)
    return Sweep.from_dict(data, name=f"{study.paper}:{section}", source=path)


def study_sweeps(study: Study, quick: bool = False, overrides=None) -> list[Sweep]:
    per = split_overrides(study, overrides)
    return [load_section(study, s, quick, per[s]) for s in study.sections]


def run_study(
    study: Study,
    out: str,
    *,
    quick: bool = False,
    overrides=None,
    executor: str = "local",
    scheduler: str | None = None,
    workers: int | None = None,
    threads: int | None = None,
    progress: str | None = None,
    allow_mixed: bool = False,
    stream=None,
) -> str:
    """Run the study's sections into the store in `out` (skipping stored runs), then the derived sections,
    then the analysis; returns the path of report.md."""
    from ..sweeps.driver import run_sweeps

    sweeps = study_sweeps(study, quick, overrides)
    opts = dict(
        executor=executor,
        scheduler=scheduler,
        workers=workers,
        threads=threads,
        progress=progress,
        allow_mixed=allow_mixed,
        stream=stream,
    )
    run_sweeps(sweeps, out, desc=study.paper, **opts)
    if study.derive is not None:
        with StudyData(out, study) as data:
            derived = study.derive(data, quick, split_overrides(study, overrides))
        if derived:
            run_sweeps(derived, out, desc=f"{study.paper} (derived)", **opts)
    return analyze(study, out)


def analyze(study: Study, store_dir: str, out_dir: str | None = None) -> str:
    """Figures and report.md of `study` from the store in `store_dir` alone (into out_dir, default the
    store's folder); returns the report path."""
    import time

    tick = time.perf_counter()
    with StudyData(store_dir, study) as data:
        out = os.path.abspath(out_dir or data.store.root)
        os.makedirs(out, exist_ok=True)
        return study.analyze(data, out, started=tick)


class StudyData:
    """Read access to a study's store: the sections' sweeps as stored (the latest sweep recorded under
    ``paper:section``), their runs' records, trajectories and parameters. Opened read-only."""

    def __init__(self, store_dir: str, study: Study):
        import warnings

        from ..sweeps.files import CorruptRecordWarning
        from ..sweeps.store import open_store

        self.study = study
        self.store = open_store(store_dir)
        self.sweeps: dict[str, Sweep] = {}
        for row in self.store.sweeps():
            paper, _, section = (row["name"] or "").partition(":")
            if paper == study.paper and section in study.sections + study.derived_sections:
                try:
                    self.sweeps[section] = Sweep.from_dict(row["spec"], name=row["name"])
                except (SpecError, ValueError, TypeError):
                    continue  # a spec of another version; the newer rows of that section replace it
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CorruptRecordWarning)
            self.records = {r["id"]: r for r in self.store.records()}
        self.skipped = dict(self.store.skipped)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.store.close()
        return False

    def has(self, section: str) -> bool:
        return section in self.sweeps

    def runs(self, section: str) -> list[tuple[str, dict, dict | None]]:
        """[(run id, config, record or None if not stored)] of a section, in the sweep's order."""
        sweep = self.sweeps.get(section)
        if sweep is None:
            return []
        return [(rid, cfg, self.records.get(rid)) for rid, cfg in sweep.runs()]

    def missing(self) -> int:
        """Runs of the recorded sections that are not stored (yet)."""
        return sum(rec is None for s in self.sweeps for _, _, rec in self.runs(s))

    def missing_sections(self) -> list[str]:
        """The study's sections that the store has no sweep of (not started yet)."""
        return [s for s in self.study.sections if s not in self.sweeps]

    def incomplete(self) -> str:
        """ "" for a complete store, else the sentence the reports open with."""
        runs, sections = self.missing(), self.missing_sections()
        if not runs and not sections:
            return ""
        parts = ([f"{runs} run(s) are not in the store yet"] if runs else []) + (
            [f"section(s) {', '.join(sections)} not started"] if sections else []
        )
        return f"**Incomplete: {'; '.join(parts)}** (run the same command again to finish)"

    def trajectory(self, run_id: str) -> dict:
        return self.store.trajectory(run_id)

    def params(self, run_id: str) -> dict:
        return self.store.params(run_id)

    def mode(self, quick_sweeps=None, full_sweeps=None) -> str:
        """ "quick", "full" or "custom": whether the stored sections are the bundled quick or full specs."""
        stored = {s: sw.to_dict() for s, sw in self.sweeps.items() if s in self.study.sections}
        for name, quick in (("quick", True), ("full", False)):
            ref = {s: load_section(self.study, s, quick).to_dict() for s in self.study.sections}
            if stored == ref:
                return name
        return "custom"


def provenance_lines(data: StudyData, sections, closing: str) -> list:
    """The report's closing section: per section its runs, how many are stored and their summed compute
    time, then the builds the store holds (`wideflow report`'s list) and `closing` (the report's own timing)."""
    from ..sweeps.report import build_lines
    from ._report import markdown_table

    rows = []
    for section in sections:
        if data.has(section):
            runs = data.runs(section)
            recs = [rec for _, _, rec in runs if rec is not None]
            rows.append([section, len(runs), len(recs), f"{sum(r['wall_time'] or 0.0 for r in recs):.1f}"])
    head = ["section", "runs", "stored", "compute s (sum of run wall times)"]
    return ["## Provenance", "", markdown_table(head, rows), *build_lines(data.store), "", closing]
