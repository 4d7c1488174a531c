"""The progress bar of a training run (tqdm, imported on first use): shown on a terminal by default."""

from __future__ import annotations

import sys
from typing import Any


def progress_bar(progress: bool | None, total: int, desc: str) -> Any:
    """A tqdm bar (None when `progress` is False, or None and stderr is not a terminal)."""
    enabled = sys.stderr.isatty() if progress is None else bool(progress)
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="step", unit_scale=True, leave=False, mininterval=0.5)
