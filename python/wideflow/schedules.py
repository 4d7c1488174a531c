"""Step-size schedules for gradient descent (`wf.schedules`): the public path of `wideflow.training.schedules`.

A schedule maps the step index t = 0, 1, 2, ... to a step size eta_t > 0. `wf.train(..., lr=...)` takes a
number (constant step), any schedule here, or any Python callable of the step index.
"""

from __future__ import annotations

from .training.schedules import (
    Constant,
    FromCallable,
    InversePower,
    Schedule,
    as_schedule,
    checked_values,
    constant,
    inverse_power,
    valid_prefix,
)

__all__ = [
    "Schedule",
    "Constant",
    "InversePower",
    "FromCallable",
    "constant",
    "inverse_power",
    "as_schedule",
    "checked_values",
    "valid_prefix",
]
