"""Typed config fields of a sweep: each knows its default and turns a raw (TOML or Python) value into the
normalized value stored in a run's config, or raises naming what is wrong.

Normalization matters because a run's id is a hash of its config: ``lr = 1`` and ``lr = 1.0`` must give
the same run, so float fields always hold floats.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np


class FieldError(ValueError):
    """A value does not fit its field (the spec layer adds where the value came from)."""


def _type_name(value) -> str:
    return type(value).__name__


@dataclass(frozen=True)
class Field:
    """Base class: `parse(value)` returns the normalized value or raises FieldError."""

    default: object
    doc: str = ""

    type_name = "value"
    needs_base = False  # parse() takes base_dir= (the spec's folder), for fields that name files

    def parse(self, value):  # pragma: no cover - abstract
        raise NotImplementedError

    def describe(self) -> str:
        return f"{self.type_name}, default {self.default!r}" + (f": {self.doc}" if self.doc else "")


@dataclass(frozen=True)
class Int(Field):
    minimum: int | None = None
    type_name = "integer"

    def parse(self, value):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise FieldError(f"expected an integer, got {_type_name(value)} ({value!r})")
        if self.minimum is not None and value < self.minimum:
            raise FieldError(f"must be >= {self.minimum}, got {value}")
        return int(value)


@dataclass(frozen=True)
class Float(Field):
    """A finite real number; `positive` requires > 0, otherwise >= 0 (`signed` allows any sign)."""

    positive: bool = True
    signed: bool = False
    type_name = "number"

    def parse(self, value):
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise FieldError(f"expected a number, got {_type_name(value)} ({value!r})")
        v = float(value)
        if not np.isfinite(v):
            raise FieldError(f"must be finite, got {value!r}")
        if not self.signed and (v < 0 or (v == 0 and self.positive)):
            raise FieldError(f"must be {'> 0' if self.positive else '>= 0'}, got {value!r}")
        return v


@dataclass(frozen=True)
class Bool(Field):
    type_name = "boolean"

    def parse(self, value):
        if not isinstance(value, bool):
            raise FieldError(f"expected true or false, got {_type_name(value)} ({value!r})")
        return value


@dataclass(frozen=True)
class Choice(Field):
    options: tuple = ()
    type_name = "string"

    def parse(self, value):
        if not isinstance(value, str):
            raise FieldError(f"expected a string, got {_type_name(value)} ({value!r})")
        if value not in self.options:
            raise FieldError(f"unknown value {value!r}; expected one of {', '.join(map(repr, self.options))}")
        return value

    def describe(self) -> str:
        return f"one of {', '.join(map(repr, self.options))}, default {self.default!r}" + (
            f": {self.doc}" if self.doc else ""
        )


@dataclass(frozen=True)
class ChoiceOrNumber(Field):
    """A named choice or a positive number (e.g. alpha = "m" | "sqrt" | 100.0)."""

    options: tuple = ()
    type_name = "string or number"

    def parse(self, value):
        if isinstance(value, str):
            if value not in self.options:
                raise FieldError(
                    f"unknown value {value!r}; expected one of "
                    f"{', '.join(map(repr, self.options))} or a positive number"
                )
            return value
        return Float(self.default).parse(value)


@dataclass(frozen=True)
class Dataset(Field):
    """The name of a built-in 1-d dataset (`wideflow.datasets`), or a file ``{ path = "data.npz" }`` with
    arrays x and y (see `DataSource`)."""

    type_name = "dataset name or file"
    needs_base = True

    def parse(self, value, base_dir: str | None = None):
        from .. import datasets

        if isinstance(value, dict):
            return DataSource(self.default, keys=("x", "y")).parse(value, base_dir)
        if not isinstance(value, str):
            raise FieldError(f"expected a dataset name, got {_type_name(value)} ({value!r})")
        m = datasets._RANDOM.match(value)
        if m:  # a random dataset: check the name only (a spec must not make validation allocate n points)
            if int(m.group(2)) < 1:
                raise FieldError(f"{value!r} needs at least one point")
            return value
        try:
            datasets.load(value)
        except (TypeError, ValueError) as exc:
            msg = str(exc)
            raise FieldError(msg.split(": ", 1)[1] if msg.startswith("dataset: ") else msg) from None
        return value


def _parse_list(value, item: Field, min_length: int, what: str) -> list:
    """A list whose entries each parse as `item`; errors name the entry ("[1]: must be >= 1, got 0")."""
    if not isinstance(value, (list, tuple)):
        raise FieldError(f"expected a list of {what}, got {_type_name(value)} ({value!r})")
    if len(value) < min_length:
        raise FieldError(f"expected at least {min_length} entries, got {len(value)}")
    out = []
    for i, v in enumerate(value):
        try:
            out.append(item.parse(v))
        except FieldError as exc:
            raise FieldError(f"[{i}]: {exc}") from None
    return out


@dataclass(frozen=True)
class IntList(Field):
    """A non-empty list of integers, each >= `minimum` (e.g. layer sizes dims = [1000, 100, 10])."""

    minimum: int | None = None
    min_length: int = 1
    type_name = "list of integers"

    def parse(self, value):
        return _parse_list(value, Int(0, minimum=self.minimum), self.min_length, "integers")


@dataclass(frozen=True)
class FloatList(Field):
    """A list of finite positive numbers (e.g. per-layer init variances); may be empty if `min_length` = 0."""

    min_length: int = 0
    type_name = "list of numbers"

    def parse(self, value):
        return _parse_list(value, Float(1.0), self.min_length, "numbers")


@dataclass(frozen=True)
class DataSource(Field):
    """Where a run's data comes from: one of the runner's built-in `names`, or a user file given as a
    table ``{ path = "data.npz" }`` (see `wideflow.sweeps.data`). A file is read when the spec is made:
    its path is taken relative to the spec file, and its SHA-256 goes into the config (and so into the
    run id; the path itself does not, so moving a study folder keeps its ids)."""

    names: tuple = ()
    keys: tuple = ()  # the arrays a file must provide, e.g. ("x", "y") or ("Y",)
    needs_base = True
    type_name = "dataset"

    def parse(self, value, base_dir: str | None = None):
        from . import data

        if isinstance(value, str):
            if value in self.names:
                return value
            raise FieldError(
                f"unknown dataset {value!r}; expected one of {', '.join(map(repr, self.names))} "
                'or a file: { path = "data.npz" }'
            )
        if isinstance(value, dict):
            try:
                return data.source(value, self.keys, base_dir)
            except (ValueError, TypeError, OSError) as exc:
                msg = str(exc)
                raise FieldError(msg[len("dataset: ") :] if msg.startswith("dataset: ") else msg) from None
        raise FieldError(f'expected a dataset name or a table {{ path = "..." }}, got {_type_name(value)} ({value!r})')
