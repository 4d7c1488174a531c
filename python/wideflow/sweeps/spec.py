"""Sweep specs: a model, fixed config fields and a grid of lists whose product is the sweep.

As a TOML file (data only, never evaluated)::

    model = "shallow_relu"
    [fixed]
    dataset = "square10"
    steps = 2000
    [grid]
    width = [100, 1000]
    inner_scale = [0.1, 1.0]
    seed = [0, 1]

or in Python: ``Sweep("shallow_relu", fixed={"steps": 2000}, grid={"width": [100, 1000]})``.

Settings that go together but do not form a product (e.g. the (inner_scale, outer_scale) pairs of a
regime sweep) are `cases`: an array of tables, each a few fields, crossed with the grid::

    [[cases]]
    inner_scale = 100.0
    outer_scale = 1e-3
    [[cases]]
    inner_scale = 0.1
    outer_scale = 1.0

A field set in a case must not be in [fixed] or [grid]; a field that some cases leave out takes its value
from [fixed] or the default.

Everything is checked when the spec is made, before anything runs: the model must have a registered
runner, every field must be one of that runner's fields with a value of the right type, grid entries must
be non-empty lists without repeats, and no field may be both fixed and in the grid. A `SpecError` (a
ValueError) names the field, e.g. ``grid.width[1]: expected an integer, got float (1000.5)``.

Each run's config is the full set of the model's fields: defaults, then [fixed], then one grid point.
Its id is the first 16 hex digits of the SHA-256 of the canonical JSON of {"model": ..., "config": ...}
(sorted keys, no spaces), so ids do not depend on the order of keys in a spec. Runs come out in a
fixed order: the product of the grid lists taken in sorted field-name order, each list in its own order.
"""

from __future__ import annotations

import difflib
import hashlib
import itertools
import json
import math
import os
import re

from . import runners
from .fields import FieldError

MAX_RUNS = 1_000_000
MAX_SPEC_BYTES = 1 << 20  # a spec file larger than 1 MiB is refused (a spec is a few lines of TOML)
TOP_LEVEL = ("model", "fixed", "grid", "cases")
RUN_ID = re.compile(r"^[0-9a-f]{16}$")


class SpecError(ValueError):
    """An invalid sweep spec; `field` is where (e.g. "grid.width[1]"), the message says what."""

    def __init__(self, field: str, message: str, source: str | None = None):
        self.field, self.source = field, source
        super().__init__(f"{source + ': ' if source else ''}{field}: {message}")


def canonical_json(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def run_id(model: str, config: dict) -> str:
    """16 hex digits of SHA-256 over the canonical JSON of the model and its full config."""
    return hashlib.sha256(canonical_json({"model": model, "config": config}).encode()).hexdigest()[:16]


def _suggest(name, options) -> str:
    close = difflib.get_close_matches(name, list(options), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


class Sweep:
    """A validated sweep: `model`, `fixed` (normalized values), `grid` (normalized lists), `name`.

    `configs()` gives the full configs, `runs()` the (id, config) pairs, `run(out, ...)` runs it.
    """

    def __init__(
        self,
        model: str,
        fixed: dict | None = None,
        grid: dict | None = None,
        *,
        name: str | None = None,
        source: str | None = None,
        cases: list | None = None,
    ):
        self.source = source
        self.name = name or "sweep"
        # files named in the spec (user datasets) are taken relative to the spec file
        self.base_dir = os.path.dirname(os.path.abspath(source)) if source else os.getcwd()
        if not isinstance(model, str):
            self._fail("model", f"expected a model name (string), got {type(model).__name__}")
        if model not in runners.RUNNERS:
            self._fail(
                "model",
                f"no runner is registered for {model!r}{_suggest(model, runners.RUNNERS)}; "
                f"available: {', '.join(sorted(runners.RUNNERS))}",
            )
        self.model = model
        self.runner = runners.RUNNERS[model]
        fixed = {} if fixed is None else fixed
        grid = {} if grid is None else grid
        if not isinstance(fixed, dict):
            self._fail("fixed", f"expected a table of field = value, got {type(fixed).__name__}")
        if not isinstance(grid, dict):
            self._fail("grid", f"expected a table of field = [values], got {type(grid).__name__}")
        self.fixed = {k: self._parse(f"fixed.{k}", k, v) for k, v in fixed.items()}
        self.grid = {}
        for k, values in grid.items():
            where = f"grid.{k}"
            self._field(where, k)
            if k in fixed:
                self._fail(where, "is also set in [fixed]; give a field in one place only")
            if not isinstance(values, (list, tuple)):
                self._fail(
                    where,
                    f"expected a list of values, got {type(values).__name__} ({values!r}); "
                    "put single values in [fixed]",
                )
            if len(values) == 0:
                self._fail(where, "is an empty list (the sweep would have no runs)")
            parsed = [self._parse(f"{where}[{i}]", k, v) for i, v in enumerate(values)]
            seen: dict = {}
            for i, v in enumerate(parsed):
                key = canonical_json(v)
                if key in seen:
                    self._fail(f"{where}[{i}]", f"repeats the value of {where}[{seen[key]}] ({v!r})")
                seen[key] = i
            self.grid[k] = parsed
        self.cases = self._parse_cases(cases, fixed)
        n = math.prod(len(v) for v in self.grid.values()) * max(1, len(self.cases))
        if n > MAX_RUNS:
            self._fail("grid", f"the product has {n} runs, more than the limit of {MAX_RUNS}")
        self._configs: list[dict] | None = None
        self.configs()  # cross-field checks happen here, before anything runs
        self._check_distinct()

    def _check_distinct(self):
        """Two grid points that are the same run (they differ only in fields the run ignores, such as lr
        for a gradient-flow run) are an error naming those fields."""
        seen: dict = {}
        for cfg in self.configs():
            rid = run_id(self.model, self.runner.identity(cfg))
            if rid in seen:
                other = seen[rid]
                diff = sorted(k for k in cfg if canonical_json(cfg[k]) != canonical_json(other[k]))
                self._fail(
                    ", ".join(self._where(k) for k in diff),
                    "grid points differ only in field(s) that this run ignores "
                    f"({', '.join(diff)}), so they would be the same run; fix the field(s) in [fixed]",
                )
            seen[rid] = cfg

    def _parse_cases(self, cases, fixed) -> list[dict]:
        if cases is None:
            return []
        if not isinstance(cases, (list, tuple)) or not cases:
            self._fail("cases", f"expected a non-empty array of tables ([[cases]]), got {cases!r:.80}")
        out = []
        for i, case in enumerate(cases):
            where = f"cases[{i}]"
            if not isinstance(case, dict) or not case:
                self._fail(where, f"expected a non-empty table of field = value, got {case!r:.80}")
            for k in case:
                if k in fixed or k in self.grid:
                    self._fail(
                        f"{where}.{k}",
                        f"is also set in [{'fixed' if k in fixed else 'grid'}]; give a field in one place only",
                    )
            out.append({k: self._parse(f"{where}.{k}", k, v) for k, v in case.items()})
        return out

    # ------------------------------------------------------------------ validation helpers
    def _fail(self, where, message):
        raise SpecError(where, message, self.source)

    def _field(self, where, name):
        if not isinstance(name, str) or name not in self.runner.fields:
            self._fail(
                where,
                f"unknown field for model {self.model!r}{_suggest(str(name), self.runner.fields)}; "
                f"fields: {', '.join(sorted(self.runner.fields))}",
            )
        return self.runner.fields[name]

    def _parse(self, where, name, value):
        fld = self._field(where, name)
        try:
            return fld.parse(value, base_dir=self.base_dir) if fld.needs_base else fld.parse(value)
        except FieldError as exc:
            self._fail(where, str(exc))

    def _where(self, name) -> str:
        if name in self.grid:
            return f"grid.{name}"
        if name in self.fixed:
            return f"fixed.{name}"
        return "cases" if any(name in c for c in getattr(self, "cases", ())) else name

    # ------------------------------------------------------------------ construction from data
    @classmethod
    def from_dict(cls, data: dict, *, name: str | None = None, source: str | None = None) -> Sweep:
        """From the parsed TOML shape {"model": ..., "fixed": {...}, "grid": {...}}."""
        if not isinstance(data, dict):
            raise SpecError("spec", f"expected a table, got {type(data).__name__}", source)
        for key in data:
            if key not in TOP_LEVEL:
                raise SpecError(
                    str(key),
                    f"unknown top-level key{_suggest(str(key), TOP_LEVEL)}; a spec has "
                    'model = "...", [fixed], [grid] and [[cases]]',
                    source,
                )
        if "model" not in data:
            raise SpecError("model", 'missing (e.g. model = "shallow_relu")', source)
        return cls(
            data["model"], data.get("fixed"), data.get("grid"), name=name, source=source, cases=data.get("cases")
        )

    @classmethod
    def loads(cls, text: str, *, name: str | None = None, source: str | None = None) -> Sweep:
        """From TOML text."""
        tomllib = _tomllib()
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise SpecError("toml", f"not valid TOML ({exc})", source) from None
        return cls.from_dict(data, name=name, source=source)

    @staticmethod
    def from_toml_data(path) -> dict:
        """The parsed table of a TOML spec file (not yet validated)."""
        path = os.fspath(path)
        with open(path, "rb") as fh:
            raw = fh.read(MAX_SPEC_BYTES + 1)
        if len(raw) > MAX_SPEC_BYTES:
            raise SpecError(
                "toml",
                f"the file is larger than {MAX_SPEC_BYTES} bytes (1 MiB); a spec is data only, "
                "a model, [fixed] and [grid]",
                path,
            )
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise SpecError("toml", "not UTF-8 text", path) from None
        tomllib = _tomllib()
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise SpecError("toml", f"not valid TOML ({exc})", path) from None

    @classmethod
    def from_toml(cls, path) -> Sweep:
        """From a TOML file; the sweep's name is the file's stem; files it names are relative to it."""
        path = os.fspath(path)
        stem = os.path.splitext(os.path.basename(path))[0]
        return cls.from_dict(cls.from_toml_data(path), name=stem, source=path)

    # ------------------------------------------------------------------ expansion
    def configs(self) -> list[dict]:
        """Full configs (defaults, then fixed, then each grid point), in the sweep's fixed order."""
        if self._configs is None:
            base = {k: f.default for k, f in self.runner.fields.items()}
            base.update(self.fixed)
            keys = sorted(self.grid)
            out = []
            cases: list = list(enumerate(self.cases)) if self.cases else [(None, {})]
            for *values, (ci, case) in itertools.product(*(self.grid[k] for k in keys), cases):
                cfg = dict(base)
                cfg.update(zip(keys, values))
                cfg.update(case)
                if self.runner.check is not None:
                    problem = self.runner.check(cfg)
                    if problem is not None:
                        fld, msg = problem
                        point = ", ".join(
                            [f"{k}={v!r}" for k, v in zip(keys, values)] + ([f"cases[{ci}]"] if ci is not None else [])
                        )
                        self._fail(self._where(fld), msg + (f" (at grid point {point})" if point else ""))
                out.append(cfg)
            self._configs = out
        return [dict(c) for c in self._configs]

    def runs(self) -> list[tuple[str, dict]]:
        """(run id, full config) pairs in the sweep's order. The id hashes the runner's `identity` of the
        config: the fields that decide the run (e.g. not lr for a gradient-flow run, not a data file's path,
        only its content hash)."""
        return [(run_id(self.model, self.runner.identity(c)), c) for c in self.configs()]

    def ids(self) -> list[str]:
        return [rid for rid, _ in self.runs()]

    def __len__(self) -> int:
        return math.prod(len(v) for v in self.grid.values()) * max(1, len(self.cases))

    def to_dict(self) -> dict:
        out = {"model": self.model, "fixed": dict(self.fixed), "grid": {k: list(v) for k, v in self.grid.items()}}
        if self.cases:
            out["cases"] = [dict(c) for c in self.cases]
        return out

    def __repr__(self) -> str:
        grid = ", ".join(f"{k}[{len(v)}]" for k, v in sorted(self.grid.items()))
        return f"Sweep({self.name!r}, model={self.model!r}, runs={len(self)}, grid: {grid or 'none'})"

    def run(self, out, **options):
        """Run the sweep into the store in folder `out` (see `wideflow.sweeps.run_sweep`)."""
        from .driver import run_sweep

        return run_sweep(self, out, **options)


def _tomllib():
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    return tomllib


def parse_override(text: str) -> tuple[list[str], object]:
    """Split ``KEY=VALUE`` (e.g. ``fixed.steps=20000``, ``grid.width=[1000,10000]``, ``dataset=sine10``)
    into the key path and the value: VALUE is read as a TOML value (numbers, booleans, lists, "strings",
    inline tables) and, if it is not one, taken as a bare string."""
    if not isinstance(text, str) or "=" not in text:
        raise SpecError("--set", f"expected KEY=VALUE (e.g. fixed.steps=20000), got {text!r}")
    key, raw = (part.strip() for part in text.split("=", 1))
    path = key.split(".")
    if not key or any(not p for p in path) or len(path) > 2:
        raise SpecError("--set", f"expected KEY, fixed.KEY or grid.KEY before '=', got {key!r}")
    if len(path) == 2 and path[0] not in ("fixed", "grid"):
        raise SpecError("--set", f"{key!r}: a dotted key starts with fixed. or grid.")
    tomllib = _tomllib()
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return path, value


def apply_overrides(data: dict, overrides) -> dict:
    """A copy of the spec table `data` ({"model", "fixed", "grid"}) with ``--set KEY=VALUE`` overrides:
    ``model=NAME``; ``cases=[{...}, ...]`` (replaces the cases); ``fixed.KEY=VALUE`` or ``KEY=VALUE`` sets a
    fixed field (and drops it from the grid); ``grid.KEY=[...]`` sets a grid list (and drops it from [fixed]). The result is validated like a file."""
    if not isinstance(data, dict):
        raise SpecError("spec", f"expected a table, got {type(data).__name__}")
    out = dict(data)
    for table in ("fixed", "grid"):
        value = data.get(table)
        if value is not None and not isinstance(value, dict):
            raise SpecError(table, f"expected a table, got {type(value).__name__}")
        out[table] = dict(value or {})
    for text in overrides or ():
        path, value = parse_override(text)
        if path in (["model"], ["cases"]):
            out[path[0]] = value
            continue
        table, name = (path[0], path[1]) if len(path) == 2 else ("fixed", path[0])
        other = "grid" if table == "fixed" else "fixed"
        out[other].pop(name, None)
        out[table][name] = value
    return out


def load_spec(spec, overrides=None) -> Sweep:
    """A Sweep from a Sweep, a dict, a TOML file path, or the name of a bundled spec (see `bundled_specs`),
    with optional ``KEY=VALUE`` overrides (`apply_overrides`) checked like the spec itself."""
    if isinstance(spec, Sweep):
        if not overrides:
            return spec
        return Sweep.from_dict(apply_overrides(spec.to_dict(), overrides), name=spec.name, source=spec.source)
    if isinstance(spec, dict):
        return Sweep.from_dict(apply_overrides(spec, overrides) if overrides else spec)
    path = os.fspath(spec)
    if not os.path.exists(path):
        bundled = bundled_specs()
        stem = os.path.splitext(os.path.basename(path))[0]
        if os.sep not in path and stem in bundled:
            path = bundled[stem]
        else:
            raise FileNotFoundError(
                f"spec: no such file {path!r}"
                + (f" and no bundled spec of that name (bundled: {', '.join(sorted(bundled))})" if bundled else "")
            )
    if not overrides:
        return Sweep.from_toml(path)
    data = apply_overrides(Sweep.from_toml_data(path), overrides)
    return Sweep.from_dict(data, name=os.path.splitext(os.path.basename(path))[0], source=path)


def bundled_specs() -> dict[str, str]:
    """{name: path} of the ready specs shipped in wideflow/specs/."""
    here = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "specs")
    if not os.path.isdir(here):
        return {}
    return {f[:-5]: os.path.join(here, f) for f in sorted(os.listdir(here)) if f.endswith(".toml")}
