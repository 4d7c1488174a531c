"""Williams et al. 2019: the names of the study's sections and runs (the numbers live in specs/*.toml)."""

from __future__ import annotations

from dataclasses import dataclass

SECTIONS = ("regimes", "trained_sets", "step_size", "width_limits", "width_gd", "flow_gd", "flow_long")
DERIVED = ("flow",)  # built from the stored flow_gd runs (see `runs.derive_flow`)
DATASETS = ("square10", "sine10")
SCHEMES = ("uniform_knots", "gaussian")  # of the width-scaling section


@dataclass(frozen=True)
class Regime:
    """One initialization of the regime sweep: (a, b) = sigma_theta * base, c = sigma_c * base."""

    key: str
    label: str
    scheme: str
    inner: float  # sigma_theta
    outer: float  # sigma_c
    expect: str  # "kernel", "weak" (weakly separated kernel side), "balanced", "adaptive"

    @property
    def scales(self) -> str:
        return f"({self.inner:g}, {self.outer:g})"


# Ordered from kernel (first layer dominant, delta << 0) to adaptive (second layer dominant, delta >> 0),
# as the cases of specs/regimes.toml.
REGIMES = (
    Regime("kernel-unif", "kernel, uniform knots L=2", "uniform_knots", 100.0, 1e-3, "kernel"),
    Regime("kernel-300", "kernel", "gaussian", 300.0, 3e-4, "kernel"),
    Regime("kernel-100", "kernel", "gaussian", 100.0, 1e-3, "kernel"),
    Regime("kernel-30", "kernel (less separated)", "gaussian", 30.0, 3e-3, "kernel"),
    Regime("weak-10", "weakly separated", "gaussian", 10.0, 1e-2, "weak"),
    Regime("balanced", "balanced", "gaussian", 1.0, 1.0, "balanced"),
    Regime("adaptive-0.3", "adaptive", "gaussian", 0.3, 1.0, "adaptive"),
    Regime("adaptive-0.1", "adaptive", "gaussian", 0.1, 1.0, "adaptive"),
)

EXPECT = {
    "kernel": "c-only limit -> rho-spline",
    "weak": "weakly separated (may end linear)",
    "balanced": "in between",
    "adaptive": "linear interpolant, knots at data",
}


def regime_of(config: dict) -> Regime | None:
    """The regime whose init a run config has (scheme, inner_scale, outer_scale), or None."""
    for r in REGIMES:
        if (r.scheme, r.inner, r.outer) == (config["scheme"], config["inner_scale"], config["outer_scale"]):
            return r
    return None


def init_key(config: dict) -> tuple[str, str]:
    """(key, label) of a trained-sets init."""
    if config["alpha"] == "sqrt":
        return "ntk", "NTK init, alpha = sqrt(m)"
    r = regime_of(config)
    key = r.key if r else f"{config['scheme']}-{config['inner_scale']:g}"
    label = "kernel init, alpha = m" if r and r.expect == "kernel" else "adaptive init, alpha = m"
    return key, label
