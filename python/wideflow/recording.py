"""Which steps a training run records, and the `Run` it returns: the public path of
`wideflow.training.recording`."""

from __future__ import annotations

from .base import metrics_option
from .training.recording import MAX_RECORDED, Run, record_steps, snapshot_steps

__all__ = ["Run", "record_steps", "snapshot_steps", "metrics_option", "MAX_RECORDED"]
