"""Benchmark one full-batch GD step of the Du-Hu-Lee 3-layer ReLU net (paper section 4).

    python bench/bench_deep.py                    # threads 1 and 2, float64, appends bench/results/deep.jsonl
    python bench/bench_deep.py --threads 1 --repeats 15 --out results.jsonl

Then the user path: the raw kernel and `wf.train` with default options at 10, 20 and 1000 steps, their
rate ratio, PyTorch eager, torch.compile and jax.jit + lax.fori_loop at 20 steps (when installed), and the
peak RSS of a fresh process.

Config: N = 1000 samples, 1000 -> 100 -> 100 -> 10, ReLU, no biases, loss 1/2 sum ||f(x) - y||^2.
Timed in the same process, same thread count, in blocks taken in turn (A B C A B C ..., so every
implementation sees the same background load on a shared machine), medians and minima reported:

* wideflow: the fused C++ kernel driven as `wf.train` drives it (a run object holding the workspaces and the
  packed X), `chunk` steps per call, per step;
* wideflow (1 step/call): the same, one step per call (includes the Python call overhead);
* NumPy reference: `wideflow._reference.deep_gradients` + update (BLAS threads via threadpoolctl);
* PyTorch CPU autograd: forward, loss, backward, in-place SGD update (torch.set_num_threads);
* probe: a NumPy 1000 x 1000 @ 1000 x 1000 float64 matrix product (same BLAS thread count), GFLOP/s.

A step is 2 N sum_h d_h d_{h-1} flops forward, as many for the weight gradients and
2 N sum_{h>=2} d_h d_{h-1} for back-propagating the deltas (466 MFLOP here).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

import wideflow as wf
from wideflow import _core
from wideflow import _reference as ref
from wideflow.benchmark import append_jsonl, machine_line

DIMS = (1000, 100, 100, 10)
N = 1000


def step_flops(dims=DIMS, n=N) -> float:
    mats = [dims[h + 1] * dims[h] for h in range(len(dims) - 1)]
    return 2.0 * n * (2 * sum(mats) + sum(mats[1:]))


def problem(seed=0):
    """Paper-like data: x ~ N(0, I), y from a random ReLU teacher; a small random student."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, DIMS[0]))
    teacher = wf.DeepNet.init(DIMS, variance=[2 / 1000, 2 / 100, 1 / 100], seed=seed + 1)
    Y = teacher(X)
    student = wf.DeepNet.init(DIMS, variance=[1e-6, 1e-5, 1e-4], seed=seed + 2)
    return X, Y, student


class Timers:
    """Implementations to time; each `fn()` runs `steps` GD steps."""

    def __init__(self, threads: int, chunk: int):
        self.threads, self.chunk = threads, chunk
        self.X, self.Y, net = problem()
        self.lr = 2e-5
        self.cases = {}
        # wideflow, chunk steps per call
        self.net = net
        lrs = np.full(chunk, self.lr)
        losses = np.empty(chunk)
        trainer = _core.deep.trainer(*net._args(), self.X, self.Y, 0.0, threads)  # what wf.train drives
        self.cases["wideflow"] = (lambda: trainer.run(lrs, losses), chunk)
        one, loss1 = np.full(1, self.lr), np.empty(1)
        self.cases["wideflow (1 step/call)"] = (lambda: trainer.run(one, loss1), 1)
        # NumPy reference
        self.ref_w = [w.copy() for w in net.weights]

        def numpy_step():
            _, gw, _ = ref.deep_gradients(self.ref_w, self.X, self.Y, "relu")
            for w, g in zip(self.ref_w, gw):
                w -= self.lr * g

        self.cases["NumPy reference"] = (numpy_step, 1)
        # PyTorch autograd
        try:
            import torch
        except ImportError:
            torch = None
        if torch is not None:
            torch_steps = _torch_eager_steps(net, self.X, self.Y, self.lr, threads)
            self.cases["PyTorch autograd"] = (lambda: torch_steps(1), 1)
        # matmul probe
        rng = np.random.default_rng(1)
        A, B = rng.standard_normal((1000, 1000)), rng.standard_normal((1000, 1000))
        Cm = np.empty((1000, 1000))
        self.cases["probe"] = (lambda: np.matmul(A, B, out=Cm), 1)


def run(threads: int, repeats: int, chunk: int, rounds: int) -> tuple:
    """Median and min seconds per step of every implementation.

    Implementations are timed in blocks of `repeats` calls, `rounds` times over in turn (A B C A B C ...),
    with a pause before each block: the BLAS / OpenMP thread pools of the other implementations spin for
    a while after their last call and would otherwise steal the cores from the one being timed.
    """
    import contextlib

    try:
        from threadpoolctl import threadpool_limits

        limits = threadpool_limits(limits=threads)
    except ImportError:  # pragma: no cover
        limits = contextlib.nullcontext()
        print("warning: threadpoolctl not installed; NumPy uses its default BLAS thread count", file=sys.stderr)
    with limits:
        t = Timers(threads, chunk)
        times = {name: [] for name in t.cases}
        for _ in range(rounds):
            for name, (fn, steps) in t.cases.items():
                time.sleep(0.3)
                fn()  # warm-up
                for _ in range(repeats):
                    t0 = time.perf_counter()
                    fn()
                    times[name].append((time.perf_counter() - t0) / steps)
    med = {name: statistics.median(v) for name, v in times.items()}
    return med, {name: min(v) for name, v in times.items()}


def _torch_compile_steps(net, X, Y, lr, threads):
    """The net as a torch user writes it (nn.Sequential, torch.compile, autograd, in-place SGD)."""
    import torch

    torch.set_num_threads(threads)
    layers = []
    for h, w in enumerate(net.weights):
        lin = torch.nn.Linear(w.shape[1], w.shape[0], bias=False, dtype=torch.float64)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(w))
        layers += [lin] + ([torch.nn.ReLU()] if h < len(net.weights) - 1 else [])
    model = torch.compile(torch.nn.Sequential(*layers))
    tX, tY = torch.from_numpy(X), torch.from_numpy(Y)

    def steps(k):
        for _ in range(k):
            loss = 0.5 * ((model(tX) - tY) ** 2).sum()
            loss.backward()
            with torch.no_grad():
                for p in model.parameters():
                    p -= lr * p.grad
                    p.grad = None

    return steps


def _torch_eager_steps(net, X, Y, lr, threads):
    import torch

    torch.set_num_threads(threads)
    tw = [torch.tensor(w, requires_grad=True) for w in net.weights]
    tX, tY = torch.from_numpy(X), torch.from_numpy(Y)

    def steps(k):
        for _ in range(k):
            a = tX
            for h, w in enumerate(tw):
                a = a @ w.T
                if h < len(tw) - 1:
                    a = torch.relu(a)
            loss = 0.5 * ((a - tY) ** 2).sum()
            loss.backward()
            with torch.no_grad():
                for w in tw:
                    w -= lr * w.grad
                    w.grad = None

    return steps


def _jax_steps(net, X, Y, lr):
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    ws = tuple(jnp.asarray(w) for w in net.weights)
    Xj, Yj = jnp.asarray(X), jnp.asarray(Y)

    def loss(ws):
        a = Xj
        for h, w in enumerate(ws):
            a = a @ w.T
            if h < len(ws) - 1:
                a = jnp.maximum(a, 0)
        return 0.5 * jnp.sum((a - Yj) ** 2)

    def body(_, ws):
        return tuple(w - lr * g for w, g in zip(ws, jax.grad(loss)(ws)))

    run = jax.jit(lambda ws, k: jax.lax.fori_loop(0, k, body, ws))
    return lambda k: jax.block_until_ready(run(ws, k))


def user_path(threads: int, rounds: int, steps_list=(10, 20, 1000)) -> list:
    """Kernel-only vs wf.train (default options) at each step count, in turn in one process; the compiled
    peers and PyTorch eager at 20 steps; peak RSS of a fresh process training 20 steps."""
    from wideflow.benchmark import interleaved, peak_rss, peer_available, rss_verdict, two_path_table

    X, Y, net = problem()
    lr = 2e-5
    trainer = _core.deep.trainer(*net._args(), X, Y, 0.0, threads)
    rows = []
    for steps in steps_list:
        lrs, losses = np.full(steps, lr), np.empty(steps)
        med = interleaved(
            {
                "kernel": lambda: trainer.run(lrs, losses),
                "train": lambda: wf.train(net, X, Y, lr=lr, steps=steps, threads=threads, progress=False),
            },
            rounds if steps < 1000 else max(1, rounds // 2),
            stat="min",
        )
        rows.append(
            {
                "bench": "deep_user_path",
                "case": f"Du N={N} {'-'.join(map(str, DIMS))} relu",
                "threads": threads,
                "steps": steps,
                "kernel_s": med["kernel"],
                "train_s": med["train"],
                "ratio": med["kernel"] / med["train"],
                "stat": "min",
                "ratio_of_medians": med["kernel:median"] / med["train:median"],
            }
        )
        two_path_table(rows[-1:])
    peers = []
    if peer_available("torch"):
        peers += [
            ("PyTorch eager (autograd)", lambda: _torch_eager_steps(net, X, Y, lr, threads)),
            ("torch.compile", lambda: _torch_compile_steps(net, X, Y, lr, threads)),
        ]
    if peer_available("jax"):
        peers.append(("jax.jit + lax.fori_loop", lambda: _jax_steps(net, X, Y, lr)))
    made = {}
    for name, make in peers:
        try:
            fn = make()
            fn(20)  # compile / warm up
            made[name] = fn
        except Exception as exc:  # report a peer that does not build, do not die
            print(f"  {name}: failed ({type(exc).__name__}: {str(exc)[:100]})")
    if made:
        cases = {name: (lambda fn=fn: fn(20)) for name, fn in made.items()}
        cases["wf.train"] = lambda: wf.train(net, X, Y, lr=lr, steps=20, threads=threads, progress=False)
        med = interleaved(cases, rounds, stat="min")
        for name in made:
            rows.append(
                {
                    "bench": "deep_peer",
                    "impl": name,
                    "threads": threads,
                    "steps": 20,
                    "sec": med[name],
                    "train_sec": med["wf.train"],
                    "train_speedup": med[name] / med["wf.train"],
                }
            )
            print(
                f"  20 steps: {name:<26}{med[name] * 1e3:9.1f} ms   wf.train {med['wf.train'] * 1e3:7.1f} ms   "
                f"wf.train {med[name] / med['wf.train']:.2f}x faster"
            )
    mem = peak_rss(
        f"import sys\nsys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r})\n"
        "from bench_deep import problem\nX, Y, net = problem()",
        f"wf.train(net, X, Y, lr=2e-5, steps=20, threads={threads}, progress=False)\nnet(X)",
    )
    pbytes = sum(w.nbytes for w in net.weights)
    rows.append({"bench": "deep_rss", "threads": threads, "param_bytes": pbytes, **mem})
    print(
        f"  peak RSS (data + 20 steps + eval, fresh process): {rss_verdict(mem['peak_rss'], pbytes)}; "
        f"data and imports {mem['rss_after_setup'] / 1e6:.0f} MB"
    )
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--repeats", type=int, default=7, help="timed calls per block")
    p.add_argument("--rounds", type=int, default=3, help="blocks per implementation, taken in turn")
    p.add_argument("--chunk", type=int, default=10, help="steps per wideflow kernel call")
    p.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "deep.jsonl"))
    p.add_argument("--no-user-path", action="store_true", help="skip the kernel vs wf.train table and peers")
    args = p.parse_args(argv)
    flops = step_flops()
    machine = machine_line()
    print(f"Du-Hu-Lee 3-layer ReLU step: N={N}, dims={DIMS}, float64, {flops / 1e6:.0f} MFLOP/step")
    print(f"machine: {machine['cpu']}, {machine['cores']} cores, load {machine['load_avg']}")
    rows = []
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
    for threads in args.threads:
        med, mins = run(threads, args.repeats, args.chunk, args.rounds)
        probe = 2.0 * 1000**3 / med["probe"]
        print(f"\nthreads={threads}   NumPy matmul probe: {probe / 1e9:.1f} GFLOP/s (median)")
        print(f"{'implementation':<26}{'ms/step':>10}{'min ms':>9}{'GFLOP/s':>10}{'% probe':>9}{'vs torch':>10}")
        torch_t = med.get("PyTorch autograd")
        for name, sec in med.items():
            if name == "probe":
                continue
            gf = flops / sec
            vs = f"{torch_t / sec:.2f}x" if torch_t else "-"
            print(
                f"{name:<26}{sec * 1e3:>10.3f}{mins[name] * 1e3:>9.3f}{gf / 1e9:>10.1f}{100 * gf / probe:>8.0f}%"
                f"{vs:>10}"
            )
            rows.append(
                {
                    "bench": "deep_step",
                    "impl": name,
                    "threads": threads,
                    "dims": list(DIMS),
                    "n": N,
                    "dtype": "float64",
                    "sec_per_step": sec,
                    "min_sec_per_step": mins[name],
                    "gflops": gf / 1e9,
                    "probe_gflops": probe / 1e9,
                    "fraction_of_probe": gf / probe,
                    "speedup_vs_torch": (torch_t / sec) if torch_t else None,
                    "repeats": args.repeats * args.rounds,
                    "chunk": args.chunk,
                    "time": stamp,
                    "machine": machine,
                }
            )
    if not args.no_user_path:
        threads = max(args.threads)
        print(f"\n== the user path (threads={threads}): raw kernel vs wf.train with default options, in turn")
        for r in user_path(threads, args.rounds * 2):
            rows.append(dict(r, time=stamp, machine=machine))
    append_jsonl(args.out, rows)
    print(f"\nappended {len(rows)} lines to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
