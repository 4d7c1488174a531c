"""Paper reproductions as studies, and a demo.

Each paper is a package ``wideflow.experiments.<paper>`` with bundled sweep specs (``specs/``) and an
analysis that reads only the results store; `wideflow.experiments._study` runs them, and
`wideflow.experiments._report` holds the table / number / figure / fit helpers every report shares.

    wideflow reproduce PAPER [--quick] [--out DIR] [--executor local|process|dask] [--set KEY=VALUE ...]
    wideflow report DIR            # a paper's store: that paper's figures and report.md again
"""

from __future__ import annotations

import importlib

PAPERS = {
    "williams2019": "Williams et al. 2019: shallow univariate ReLU nets, kernel vs adaptive regimes",
    "tarmoun2021": "Tarmoun et al. 2021: two-layer linear factorization dynamics",
    "du2018": "Du, Hu & Lee 2018: layers are automatically balanced",
}

__all__ = ["PAPERS", "study", "paper_of"]


def study(paper: str):
    """The `Study` of a paper (its bundled specs and analysis)."""
    if paper not in PAPERS:
        raise ValueError(f"paper: unknown value {paper!r}; expected one of {', '.join(sorted(PAPERS))}")
    return importlib.import_module(f"{__name__}.{paper}").STUDY


def paper_of(store) -> str | None:
    """The paper whose study the store holds (from the names of its recorded sweeps, ``paper:section``),
    the latest one if several; None for a store of plain sweeps."""
    found = None
    for row in store.sweeps():
        paper = (row["name"] or "").partition(":")[0]
        if paper in PAPERS:
            found = paper
    return found
