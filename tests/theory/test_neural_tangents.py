"""Optional cross-check of the Gaussian-init kernels against neural-tangents (runs only where it imports).

Versions known to work: neural-tangents 0.6.5 with jax 0.4.30 / jaxlib 0.4.30
(``pip install neural-tangents==0.6.5 jax==0.4.30 jaxlib==0.4.30``); newer jax releases break 0.6.5.

The net f(x) = (1/sqrt m) sum_i c_i [theta_i . X]_+ on inputs X = (x, 1), theta ~ N(0, s_t^2 I_2),
c ~ N(0, s_c^2), is stax.Dense(W_std = s_t sqrt 2, no bias) -> Relu -> Dense(W_std = s_c, no bias) in the NTK
parameterization (W_std / sqrt(fan_in) times standard normal weights; the first fan-in is 2). Then
  NNGP  E[f(x) f(x')]                    = s_c^2 kernel_c(x, x'; s_t),
  NTK over the standard-normal weights    = s_c^2 kernel_c(x, x'; s_t) + s_t^2 kernel_theta(x, x'; c2 = s_c^2),
while wideflow's kernel_ntk (gradients in theta and c themselves) is kernel_c(s_t) + kernel_theta(c2 = s_c^2):
the two agree at s_t = s_c = 1 and differ by the chain-rule factors otherwise.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from wideflow import limits

nt = pytest.importorskip("neural_tangents")
jax = pytest.importorskip("jax")


@pytest.fixture(scope="module")
def x64():
    jax.config.update("jax_enable_x64", True)
    yield
    jax.config.update("jax_enable_x64", False)


@pytest.mark.parametrize("s_t,s_c", [(1.0, 1.0), (1.5, 0.4)])
def test_gaussian_nngp_and_ntk_match_neural_tangents(x64, s_t, s_c):
    from neural_tangents import stax

    x = np.array([-3.0, -1.0, -0.35, 0.0, 0.2, 0.9, 2.5])
    X = np.stack([x, np.ones_like(x)], axis=1)
    _, _, kernel_fn = stax.serial(
        stax.Dense(1, W_std=s_t * math.sqrt(2.0), b_std=None), stax.Relu(), stax.Dense(1, W_std=s_c, b_std=None)
    )
    k = kernel_fn(X, X, ("nngp", "ntk"))
    nngp, ntk = np.asarray(k.nngp, dtype=np.float64), np.asarray(k.ntk, dtype=np.float64)
    Kc = limits.kernel_c(x, x, inner_scale=s_t)
    Kt = limits.kernel_theta(x, x, c2=s_c**2)
    scale = np.abs(ntk).max()
    np.testing.assert_allclose(nngp, s_c**2 * Kc, rtol=0, atol=1e-13 * scale)
    np.testing.assert_allclose(ntk, s_c**2 * Kc + s_t**2 * Kt, rtol=0, atol=1e-13 * scale)
    if s_t == s_c == 1.0:
        np.testing.assert_allclose(ntk, limits.kernel_ntk(x, x), rtol=0, atol=1e-13 * scale)
