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
            f": {self.doc}" if self.doc else "")


@dataclass(frozen=True)
class ChoiceOrNumber(Field):
    """A named choice or a positive number (e.g. alpha = "m" | "sqrt" | 100.0)."""

    options: tuple = ()
    type_name = "string or number"

    def parse(self, value):
        if isinstance(value, str):
            if value not in self.options:
                raise FieldError(f"unknown value {value!r}; expected one of "
                                 f"{', '.join(map(repr, self.options))} or a positive number")
            return value
        return Float(self.default).parse(value)


@dataclass(frozen=True)
class Dataset(Field):
    """The name of a built-in dataset (`wideflow.datasets`)."""

    type_name = "dataset name"

    def parse(self, value):
        from .. import datasets

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
