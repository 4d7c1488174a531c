"""Analytic limits of wide shallow univariate ReLU nets, and measurements on trained nets.

Notation (Williams et al. 2019; docs page ``theory/williams2019``)::

    f(x) = (1/alpha) * sum_i c_i [a_i x + b_i]_+ ,   theta_i = (a_i, b_i),  X = (x, 1)
    knot e_i = -b_i / a_i ,  slope jump at e_i = c_i |a_i| / alpha
    delta_i = c_i^2 - a_i^2 - b_i^2                      (conserved by gradient flow)
    rho(e) = int |a|^3 p(a, -a e) da                     (curvature weight of the init law p)

Kernel regime (first layer dominant, or only ``c`` trained) -> the interpolant minimizing
``int f''^2 / rho`` (a natural cubic spline when rho is constant), or exactly the minimum-RKHS-norm
kernel interpolant; adaptive regime (second layer dominant) -> the linear-spline interpolant.

Pure NumPy (SciPy is imported lazily, inside the few functions that need it). Everything is float64.
The package holds one idea per module: ``splines`` (interpolants and rho), ``kernels`` (kernels and
kernel interpolants), ``measures`` (measurements on a trained net); every name is re-exported here.

Contents
--------
Interpolants (each returns a callable object ``f(t) -> ndarray`` with useful attributes):
    natural_cubic_spline, linear_interpolant, rho, rho_weighted_spline,
    kernel_c, kernel_theta, kernel_ntk (Gaussian / rotation-invariant init), kernel_uniform_knots,
    kernel_theta_uniform_knots, kernel_ntk_uniform_knots (uniform-knots init), kernel_interpolant,
    min_norm_outer_interpolant
Measurements on a net (arrays ``a, b, c, alpha`` or any object with those attributes):
    distance, knot_mass_fraction, uniform_knot_mass_fraction, knot_displacement,
    median_knot_displacement, invariant_drift, dead_neurons, savarese_norm
"""

from __future__ import annotations

from .kernels import (
    KernelInterpolant,
    OuterInterpolant,
    kernel_c,
    kernel_interpolant,
    kernel_ntk,
    kernel_ntk_uniform_knots,
    kernel_theta,
    kernel_theta_uniform_knots,
    kernel_uniform_knots,
    min_norm_outer_interpolant,
)
from .measures import (
    dead_neurons,
    distance,
    invariant_drift,
    knot_displacement,
    knot_mass_fraction,
    median_knot_displacement,
    savarese_norm,
    uniform_knot_mass_fraction,
)
from .splines import (
    GridFunction,
    LinearInterpolant,
    NaturalCubicSpline,
    Rho,
    linear_interpolant,
    natural_cubic_spline,
    rho,
    rho_weighted_spline,
)

__all__ = [
    "natural_cubic_spline",
    "linear_interpolant",
    "rho",
    "rho_weighted_spline",
    "kernel_c",
    "kernel_theta",
    "kernel_ntk",
    "kernel_uniform_knots",
    "kernel_theta_uniform_knots",
    "kernel_ntk_uniform_knots",
    "kernel_interpolant",
    "min_norm_outer_interpolant",
    "distance",
    "knot_mass_fraction",
    "uniform_knot_mass_fraction",
    "knot_displacement",
    "median_knot_displacement",
    "invariant_drift",
    "dead_neurons",
    "savarese_norm",
    "NaturalCubicSpline",
    "LinearInterpolant",
    "Rho",
    "GridFunction",
    "KernelInterpolant",
    "OuterInterpolant",
]
