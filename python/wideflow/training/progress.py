"""The progress bar of a training run (tqdm, imported on first use): shown on a terminal by default."""

from __future__ import annotations

import sys


def progress_bar(progress, total: int, desc: str):
    enabled = sys.stderr.isatty() if progress is None else bool(progress)
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="step", unit_scale=True, leave=False, mininterval=0.5)
