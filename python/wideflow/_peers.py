"""The peers of the shallow-net benchmark (`wideflow.benchmark`): the NumPy reference step and PyTorch
(autograd and a hand-written gradient) timed at a width, and torch.compile / jax.jit step loops for the
user-path table. Every peer is imported lazily and is optional (`peer_available`)."""

from __future__ import annotations

from ._timing import median_time
from .base import by_dtype
from .shallow import ShallowReLU


def _time_numpy(m, n, dtype, threads, repeats, seed=0):
    from . import _reference as R

    net = ShallowReLU.init(m, inner_scale=1.0, dtype=dtype, seed=seed)
    from .benchmark import square_wave  # the benchmark's problem (a circular import at module level)

    x, y = square_wave(n)
    a, b, c = net.a, net.b, net.c

    def step():
        R.shallow_gd(a, b, c, net.alpha, x, y, [1e-3])

    with _blas_threads(threads):
        return median_time(step, repeats)


class _blas_threads:
    """Limit BLAS threads for the NumPy peer (threadpoolctl when installed; else unchanged)."""

    def __init__(self, n):
        self.n, self.ctx = n, None

    def __enter__(self):
        try:
            from threadpoolctl import threadpool_limits

            self.ctx = threadpool_limits(self.n)
        except ImportError:
            self.ctx = None
        return self

    def __exit__(self, *exc):
        if self.ctx is not None:
            self.ctx.unregister() if hasattr(self.ctx, "unregister") else self.ctx.restore_original_limits()
        return False


def _time_torch(m, n, dtype, threads, repeats, handwritten: bool, seed=0):
    import torch

    torch.set_num_threads(threads)
    tdt = by_dtype(dtype, torch.float64, torch.float32)
    net = ShallowReLU.init(m, inner_scale=1.0, dtype=dtype, seed=seed)
    from .benchmark import square_wave  # the benchmark's problem (a circular import at module level)

    x, y = square_wave(n)
    xt = torch.tensor(x, dtype=tdt)
    yt = torch.tensor(y, dtype=tdt)
    inv_alpha = 1.0 / net.alpha
    lr = 1e-3
    if handwritten:
        a, b, c = (torch.tensor(v) for v in (net.a, net.b, net.c))

        def step():
            with torch.no_grad():
                z = xt[:, None] * a + b  # (n, m)
                act = torch.relu(z)
                r = act @ c * inv_alpha - yt
                on = (z > 0).to(tdt)
                ga = (r * xt) @ on * c * inv_alpha
                gb = r @ on * c * inv_alpha
                gc = r @ act * inv_alpha
                a.sub_(lr * ga)
                b.sub_(lr * gb)
                c.sub_(lr * gc)
    else:
        a, b, c = (torch.tensor(v, requires_grad=True) for v in (net.a, net.b, net.c))

        def step():
            f = torch.relu(xt[:, None] * a + b) @ c * inv_alpha
            loss = 0.5 * ((f - yt) ** 2).sum()
            loss.backward()
            with torch.no_grad():
                for p in (a, b, c):
                    p.sub_(lr * p.grad)
                    p.grad = None

    return median_time(step, repeats)


def _torch_compiled_step(net, x, y, lr, threads):
    import torch

    torch.set_num_threads(threads)
    tdt = by_dtype(net.dtype, torch.float64, torch.float32)
    xt, yt = torch.tensor(x, dtype=tdt), torch.tensor(y, dtype=tdt)
    params = [torch.tensor(v, requires_grad=True) for v in (net.a, net.b, net.c)]
    inv_alpha = 1.0 / net.alpha

    @torch.compile
    def loss_fn(a, b, c):
        f = torch.relu(xt[:, None] * a + b) @ c * inv_alpha
        return 0.5 * ((f - yt) ** 2).sum()

    def steps(k):
        for _ in range(k):
            loss = loss_fn(*params)
            loss.backward()
            with torch.no_grad():
                for p in params:
                    p.sub_(lr * p.grad)
                    p.grad = None

    return steps


def _jax_fori(net, x, y, lr):
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    dt = by_dtype(net.dtype, jnp.float64, jnp.float32)
    xj, yj = jnp.asarray(x, dtype=dt), jnp.asarray(y, dtype=dt)
    params = tuple(jnp.asarray(v) for v in (net.a, net.b, net.c))
    inv_alpha = 1.0 / net.alpha

    def loss(p):
        a, b, c = p
        f = jnp.maximum(xj[:, None] * a + b, 0) @ c * inv_alpha
        return 0.5 * jnp.sum((f - yj) ** 2)

    def body(_, p):
        g = jax.grad(loss)(p)
        return tuple(w - lr * gw for w, gw in zip(p, g))

    run = jax.jit(lambda p, k: jax.lax.fori_loop(0, k, body, p))

    def steps(k):
        jax.block_until_ready(run(params, k))

    return steps


def peer_available(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None
