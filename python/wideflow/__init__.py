"""wideflow: very wide shallow and deep networks trained by fused C++ gradient descent, measured against
the limits theory predicts (splines, kernel interpolants, closed-form linear dynamics, conservation laws).

    import wideflow as wf
    net = wf.ShallowReLU.init(10_000, scheme="gaussian", inner_scale=0.1)
    run = wf.train(net, x, y, lr=..., steps=...)
"""

from __future__ import annotations

from importlib import metadata as _metadata

from . import _core, schedules
from ._core import openmp_enabled, threads_available
from .deep import DeepNet
from .errors import DivergenceWarning, InterruptedWarning, IsaWarning, ScheduleError
from .factorization import Factorization, OneLayer, train_batch
from .shallow import ShallowReLU
from .training import train
from .training.recording import Run

try:  # the one source of the version is pyproject.toml, read back from the installed package's metadata
    __version__ = _metadata.version("wideflow")
except _metadata.PackageNotFoundError:  # pragma: no cover - imported from a tree that was never installed
    __version__ = "0+unknown"


def build_info() -> dict:
    """How the compiled core was built and which instruction set its shallow kernels run with.

    Keys: ``compiler``, ``flags`` (of the bindings and the other families), ``kernel_flags`` (of the
    dispatched shallow kernels, which raise their own instruction set), ``native`` (built with
    ``-march=native``), ``openmp`` / ``openmp_version`` (the ``_OPENMP`` date), ``isa`` (in use:
    ``"baseline"``, ``"avx2"`` or ``"avx512"``), ``isa_compiled`` (the copies in this build),
    ``isa_cpu`` (the best one this CPU runs), ``isa_requested`` (the ``WIDEFLOW_ISA`` environment
    variable, read once at import; it may force a lower set) and ``isa_note`` (why a request was not
    honoured). Every instruction set computes the same bits; a lower one is only slower.
    """
    info = dict(_core.build_config())
    isa = _core.isa_info()
    info.update(
        isa=isa["in_use"],
        isa_compiled=list(isa["compiled"]),
        isa_cpu=isa["cpu_best"],
        isa_requested=isa["requested"],
        isa_note=isa["note"],
        threads_available=threads_available(),
    )
    return info


def _warn_isa_request() -> None:
    note = _core.isa_info()["note"]
    if note:
        import warnings

        warnings.warn(f"WIDEFLOW_ISA: {note}", IsaWarning, stacklevel=3)


_warn_isa_request()


def __getattr__(name):  # the sweep system (wf.Sweep, wf.open_store) loads on first use: import stays fast
    if name in ("Sweep", "open_store"):
        from . import sweeps

        return getattr(sweeps, name)
    raise AttributeError(f"module 'wideflow' has no attribute {name!r}")


__all__ = [
    "ShallowReLU",
    "DeepNet",
    "Factorization",
    "OneLayer",
    "train_batch",
    "Run",
    "train",
    "Sweep",
    "open_store",
    "schedules",
    "threads_available",
    "openmp_enabled",
    "build_info",
    "DivergenceWarning",
    "InterruptedWarning",
    "IsaWarning",
    "ScheduleError",
    "__version__",
]
