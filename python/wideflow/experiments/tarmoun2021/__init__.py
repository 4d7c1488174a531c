"""Tarmoun, França, Haeffele & Vidal (ICML 2021): gradient flow of overparameterized two-layer linear models.

`reproduce(out_dir, quick=False)` writes the figures (PNG + PDF) and `report.md`, with the measured numbers
beside the closed forms of `wideflow.linear_theory` (docs pages theory/tarmoun2021, reproductions):

1. Section 6 linear experiment: Y ~ N(0, 1) of size 5 x 10, k = 50, GD with lr = 1e-3 plotted against
   t = lr * step; relative error and singular values of X(t) over a sweep of init scales sigma_init, the
   one-layer model beside the two-layer one; the drift of the imbalance Q = U^T U - V^T V; GD at lr and
   lr / 10 (docs theory/tarmoun2021 § conserved imbalance).
2. A sweep over the hidden width k and the late-rate table (docs theory/tarmoun2021 § Riccati).
3. Convergence time against imbalance for one spectral mode, closed form beside GD (docs § scalar modes).
4. Closed-form overlays: spectral init (decoupled modes) and the lifted Riccati solution (balanced and
   lambda-balanced inits) against GD (docs theory/tarmoun2021).
5. The nonlinear experiment Y = relu(X W) + noise, one-layer relu(X A) against two-layer relu(X U V^T)
   (docs page reproductions), with every size exposed in `NonlinearConfig`.

Everything except the nonlinear models (a few lines of NumPy here; they are not wideflow models) runs on
the public API: `wf.Factorization`, `wf.OneLayer`, `wf.train`, `wf.train_batch`, `wf.linear_theory`.

Modules: `config` (every parameter), `linear` (section 1 and the flow check), `width` (section 2),
`closed_form` (sections 3-4), `nonlinear` (section 5).
"""

from __future__ import annotations

import os
import time

from .. import _report
from . import closed_form, linear, nonlinear, width
from .config import Config, NonlinearConfig, config_lines, quick_config, target

__all__ = ["Config", "NonlinearConfig", "quick_config", "reproduce"]

_section6 = linear._section6
_flow_check = linear._flow_check
_k_sweep = width._k_sweep
_imbalance = closed_form._imbalance
_overlays = closed_form._overlays
_nonlinear = nonlinear._nonlinear


def reproduce(out_dir: str = "wideflow-out/tarmoun2021", quick: bool = False, config: Config | None = None,
              progress=None) -> str:
    """Run the Tarmoun et al. (2021) reproduction; write figures and `report.md` into `out_dir`.

    quick: about a minute on 2 cores (fewer seeds, widths, lambdas, one nonlinear variance, shorter
    nonlinear horizon); the full run takes a few minutes. `config` overrides every parameter (`Config`).
    Returns the path of report.md.
    """
    cfg = config if config is not None else (quick_config() if quick else Config())
    if cfg.one_layer_init not in ("product", "zero"):
        raise ValueError(f"config.one_layer_init: expected 'product' or 'zero', got {cfg.one_layer_init!r}")
    os.makedirs(out_dir, exist_ok=True)
    start = time.perf_counter()
    Y = target(cfg)
    lines = ["# Tarmoun et al. (2021): dynamics of overparameterized two-layer linear models", "",
             "Reproduced by `wideflow reproduce tarmoun2021`" + (" --quick" if quick else "") + ". Theory: docs "
             "page theory/tarmoun2021; closed forms: `wideflow.linear_theory`. Time is gradient-flow time "
             "t = lr · step; loss ½‖Y − UVᵀ‖²_F (with the ½: time constants as in the docs page).", ""]
    summary: dict = {}
    timings = {}
    for name, fn in (("section 6", lambda: _section6(cfg, Y, out_dir, lines, summary)),
                     ("k sweep", lambda: _k_sweep(cfg, Y, out_dir, lines, summary)),
                     ("imbalance", lambda: _imbalance(cfg, out_dir, lines, summary)),
                     ("overlays", lambda: _overlays(cfg, Y, out_dir, lines, summary)),
                     ("gradient flow", lambda: _flow_check(cfg, Y, out_dir, lines, summary)),
                     ("nonlinear", lambda: _nonlinear(cfg.nonlinear, out_dir, lines, summary))):
        tick = time.perf_counter()
        fn()
        timings[name] = time.perf_counter() - tick
    total = time.perf_counter() - start
    lines += ["## Run", "", f"Total {total:.1f} s (" + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()) + ").",
              "", "Parameters:", "", "```", *config_lines(cfg), "```", ""]
    path = os.path.join(out_dir, "report.md")
    _report.write_text(path, "\n".join(lines))
    return path


