"""Benchmark harness: times the fused kernels against the NumPy reference and PyTorch CPU in one process.

`python bench/run.py` (or `wideflow bench`) first prints the user-path table (the raw kernel against
`wf.train` with default options at 10 and 1000 steps, timed in turn in one process, their rate ratio, the
peak RSS of a fresh process that initializes, trains and evaluates the net, and torch.compile / jax.jit
peers when installed), then the kernel table, and appends JSON lines (one per measurement, each with the
machine line) to a results file. Reported per case: seconds per step (median of repeats),
neuron-steps/s, equivalent GFLOP/s of the O(m n) algorithm (10 flops per neuron-sample), the bytes the
parameters move per step (6 * itemsize per neuron: read and write a, b, c) over time, and that rate as a
fraction of a same-run memory-copy probe (read + write bytes of np.copyto on 256 MiB arrays).
Peers (same process, same thread count): the NumPy reference and PyTorch CPU (autograd, and a
hand-written gradient), when installed.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from . import _core
from ._peers import _jax_fori, _time_numpy, _time_torch, _torch_compiled_step, peer_available
from ._timing import (
    copy_bandwidth,
    interleaved,
    machine_line,
    median_time,
    peak_rss,
    rss_verdict,
    timed_calls,
    two_path_table,
)
from .datasets import _square
from .shallow import ShallowReLU

FLOPS_PER_NEURON_SAMPLE = 10  # forward z, relu, c*relu (4) + the three gradient sums (6)


# ---------------------------------------------------------------------------------------------- cases
@dataclass
class Result:
    impl: str
    m: int
    n: int
    dtype: str
    threads: int
    sec_per_step: float
    extrapolated_from_m: int | None = None
    extra: dict = field(default_factory=dict)

    @property
    def neuron_steps(self) -> float:
        return self.m / self.sec_per_step


def square_wave(n: int) -> tuple[np.ndarray, np.ndarray]:
    """The square10 targets (`wideflow.datasets`) on n equispaced points of [-1, 1]."""
    x = np.linspace(-1.0, 1.0, n)
    return x, _square(x)


def time_wideflow(m, n, dtype, threads, kernel, repeats, seed=0):
    net = ShallowReLU.init(m, inner_scale=1.0, dtype=dtype, seed=seed)
    x, y = square_wave(n)
    if kernel == "sorted":
        bins = np.empty(m, dtype=np.int32)
        _core.shallow.gd_sorted(
            net.a, net.b, net.c, 1.0 / net.alpha, x, y, net(x), np.zeros(0), 1.0, 1.0, np.zeros(0), threads, bins, False
        )

        def step(*args):
            return _core.shallow.gd_sorted(*args, bins, True)
    else:
        step = _core.shallow.gd_direct
    pred = net(x, kernel=kernel)
    # a step size that keeps the parameters bounded over many repeats
    one = np.full(1, 1e-3)
    losses = np.empty(1)
    t1 = median_time(lambda: step(net.a, net.b, net.c, 1.0 / net.alpha, x, y, pred, one, 1.0, 1.0, losses, threads), 3)
    steps = int(max(1, min(1000, 0.2 / max(t1, 1e-9))))
    lrs = np.full(steps, 1e-3)
    losses = np.empty(steps)
    t = (
        median_time(
            lambda: step(net.a, net.b, net.c, 1.0 / net.alpha, x, y, pred, lrs, 1.0, 1.0, losses, threads), repeats
        )
        / steps
    )
    return Result(f"wideflow-{kernel}", m, n, np.dtype(dtype).name, threads, t)


def time_peer(impl, m, n, dtype, threads, repeats, max_elements):
    """Time a peer; beyond max_elements (n * m temporaries) time it at a smaller width and scale
    linearly in m (these peers are O(m n)); the result says so."""
    m_run = m if m * n <= max_elements else max(1000, max_elements // n)
    if impl == "numpy":
        t = _time_numpy(m_run, n, dtype, threads, repeats)
    else:
        t = _time_torch(m_run, n, dtype, threads, repeats, handwritten=(impl == "torch-hand"))
    return Result(
        impl, m, n, np.dtype(dtype).name, threads, t * m / m_run, extrapolated_from_m=None if m_run == m else m_run
    )


# ---------------------------------------------------------------------------------------------- user path
def _prepared_kernel(net, x, y, threads):
    """A callable running `steps` raw kernel steps on net (sorted data, predictions and bins ready): the
    kernel-only rate of the user-path table."""
    from .shallow import _pick_kernel

    kernel = _pick_kernel("auto", x.size, net.dtype)
    order = np.argsort(x, kind="stable")
    xs, ys = np.ascontiguousarray(x[order]), np.ascontiguousarray(y[order])
    pred = net(xs)
    bins = np.empty(net.width, dtype=np.int32)
    if kernel == "sorted":
        _core.shallow.gd_sorted(
            net.a, net.b, net.c, 1.0 / net.alpha, xs, ys, pred, np.zeros(0), 1.0, 1.0, np.zeros(0), threads, bins, False
        )

    def go(steps, lr=1e-3):
        lrs, losses = np.full(steps, lr), np.empty(steps)
        args = (net.a, net.b, net.c, 1.0 / net.alpha, xs, ys, pred, lrs, 1.0, 1.0, losses, threads)
        if kernel == "sorted":
            _core.shallow.gd_sorted(*args, bins, True)
        else:
            _core.shallow.gd_direct(*args)

    return go, kernel


def user_path(cases, steps_list=(10, 1000), rounds=5, threads=0, peers=True, rss=True, echo=print) -> list:
    """The shallow net as a user runs it: for each (m, n, dtype), the raw kernel and `wf.train` with default
    options, timed in turn in one process at each step count, their rate ratio, and the peak RSS of a
    fresh process that initializes the net, trains 10 steps and evaluates it. Peers (torch.compile and
    jax.jit + lax.fori_loop, when installed) at widths <= 10^6."""
    machine = machine_line()
    bw = copy_bandwidth()
    echo(
        f"machine: {machine['cpu']}, {machine['cores']} cores, copy probe {bw / 1e9:.1f} GB/s, load {machine['load_avg']}"
    )
    rows = []
    nthreads = threads or _core.threads_available()
    for m, n, dtype in cases:
        import wideflow as wf

        x, y = square_wave(n)
        net = ShallowReLU.init(m, dtype=dtype)
        kern, kname = _prepared_kernel(net, x, y, threads)
        for steps in steps_list:
            r = rounds if m * steps <= 10**9 else max(1, min(rounds, 10**10 // (m * steps)))
            med = interleaved(
                {
                    "kernel": lambda kern=kern, steps=steps: kern(steps),
                    "train": lambda net=net, x=x, y=y, steps=steps: wf.train(
                        net, x, y, lr=1e-3, steps=steps, progress=False, threads=threads or None
                    ),
                },
                r,
                warm=steps == steps_list[0],
                stat="min",
            )
            row = {
                "kind": "shallow_user_path",
                "case": f"shallow m={m:.0e} n={n} {np.dtype(dtype).name}",
                "m": m,
                "n": n,
                "dtype": np.dtype(dtype).name,
                "kernel": kname,
                "threads": nthreads,
                "steps": steps,
                "kernel_s": med["kernel"],
                "train_s": med["train"],
                "ratio": med["kernel"] / med["train"],
                "rounds": r,
                "stat": "min",
                "kernel_median_s": med["kernel:median"],
                "train_median_s": med["train:median"],
                "ratio_of_medians": med["kernel:median"] / med["train:median"],
            }
            rows.append(row)
            two_path_table([row], echo=echo)
        if peers and m <= 10**6:
            last = rows[-1]  # the longest run of this width
            for name, make in (
                ("torch.compile", lambda net=net, x=x, y=y: _torch_compiled_step(net, x, y, 1e-3, nthreads)),
                ("jax.jit+fori_loop", lambda net=net, x=x, y=y: _jax_fori(net, x, y, 1e-3)),
            ):
                if not peer_available("torch" if name.startswith("torch") else "jax"):
                    continue
                try:
                    fn = make()
                    fn(20)  # compile
                    sec = statistics.median(timed_calls(lambda fn=fn: fn(20), 3)) / 20
                except Exception as exc:  # a peer that fails to build is reported, not fatal
                    echo(f"  {name}: failed ({type(exc).__name__}: {str(exc)[:80]})")
                    continue
                speedup = sec / (last["train_s"] / last["steps"])
                rows.append(
                    {
                        "kind": "shallow_peer",
                        "case": last["case"],
                        "impl": name,
                        "m": m,
                        "n": n,
                        "dtype": np.dtype(dtype).name,
                        "threads": nthreads,
                        "sec_per_step": sec,
                        "train_speedup": speedup,
                    }
                )
                echo(
                    f"  peer {name:<20} {sec * 1e3:10.3f} ms/step  (wf.train at {last['steps']} steps: "
                    f"{speedup:.1f}x faster)"
                )
        if rss:
            setup = f"from wideflow.benchmark import square_wave\nx, y = square_wave({n})"
            body = (
                f"net = wf.ShallowReLU.init({m}, dtype='{np.dtype(dtype).name}')\n"
                f"wf.train(net, x, y, lr=1e-3, steps=10, progress=False)\nnet(x)"
            )
            mem = peak_rss(setup, body)
            pbytes = 3 * m * np.dtype(dtype).itemsize
            rows.append(
                {
                    "kind": "shallow_rss",
                    "case": f"shallow m={m:.0e} n={n} {np.dtype(dtype).name}",
                    "m": m,
                    "n": n,
                    "dtype": np.dtype(dtype).name,
                    "param_bytes": pbytes,
                    **mem,
                    "target_bytes": 1.15 * pbytes + 200e6,
                    "met": mem["peak_rss"] <= 1.15 * pbytes + 200e6,
                }
            )
            echo(
                f"  peak RSS (init + 10 steps + eval, fresh process): {rss_verdict(mem['peak_rss'], pbytes)}; "
                f"parameters {pbytes / 1e6:.0f} MB, imports + data {mem['rss_after_setup'] / 1e6:.0f} MB"
            )
        net = kern = None  # type: ignore[assignment]  # free the parameters before the next width
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
    for r in rows:
        r.update(machine=machine, copy_gbytes_per_s=bw / 1e9, time=stamp)
    return rows


# ---------------------------------------------------------------------------------------------- driver
def run(
    widths,
    samples,
    dtypes,
    threads_list,
    kernels=("direct", "sorted"),
    peers=("numpy", "torch-auto", "torch-hand"),
    repeats=5,
    peer_max_elements=50_000_000,
    peer_max_width=10**7,
    out=None,
    echo=print,
):
    machine = machine_line()
    bw = copy_bandwidth()
    echo(
        f"machine: {machine['cpu']}, {machine['cores']} cores, numpy {machine['numpy']}, "
        f"torch {machine['torch']}, wideflow {machine['wideflow']}"
    )
    echo(f"memory-copy probe: {bw / 1e9:.1f} GB/s (read + write)")
    if "torch-auto" in peers or "torch-hand" in peers:
        if not peer_available("torch"):
            echo("PyTorch not installed: torch peers skipped (pip install torch)")
            peers = tuple(p for p in peers if not p.startswith("torch"))
    header = (
        f"{'impl':<16}{'dtype':>8}{'thr':>4}{'m':>11}{'n':>6}{'ms/step':>11}{'Gneuron-st/s':>13}"
        f"{'GFLOP/s':>9}{'GB/s':>7}{'%copy':>7}{'vs best peer':>14}"
    )
    echo(header)
    echo("-" * len(header))
    rows = []
    for dtype in dtypes:
        itemsize = np.dtype(dtype).itemsize
        for n in samples:
            for m in widths:
                for threads in threads_list:
                    results = [time_wideflow(m, n, dtype, threads, k, repeats) for k in kernels]
                    peer_results = []
                    if m <= peer_max_width:
                        for p in peers:
                            try:
                                peer_results.append(
                                    time_peer(p, m, n, dtype, threads, max(3, repeats // 2), peer_max_elements)
                                )
                            except MemoryError:
                                echo(f"{p}: out of memory at m={m}, n={n}")
                    best_peer = min((r.sec_per_step for r in peer_results), default=None)
                    for r in results + peer_results:
                        gbs = 6 * itemsize * r.m / r.sec_per_step / 1e9
                        gflops = FLOPS_PER_NEURON_SAMPLE * r.m * r.n / r.sec_per_step / 1e9
                        speedup = (
                            (best_peer / r.sec_per_step) if (best_peer and r.impl.startswith("wideflow")) else None
                        )
                        note = f"~m={r.extrapolated_from_m}" if r.extrapolated_from_m else ""
                        echo(
                            f"{r.impl:<16}{r.dtype:>8}{r.threads:>4}{r.m:>11}{r.n:>6}"
                            f"{r.sec_per_step * 1e3:>11.3f}{r.neuron_steps / 1e9:>13.4f}{gflops:>9.1f}"
                            f"{gbs:>7.1f}{100 * gbs * 1e9 / bw:>6.0f}%"
                            f"{(f'{speedup:.1f}x' if speedup else note):>14}"
                        )
                        row = asdict(r)
                        row.update(
                            kind="shallow_gd_step",
                            neuron_steps_per_s=r.neuron_steps,
                            gflops=gflops,
                            gbytes_per_s=gbs,
                            copy_gbytes_per_s=bw / 1e9,
                            fraction_of_copy=gbs * 1e9 / bw,
                            speedup_vs_best_peer=speedup,
                            machine=machine,
                            time=time.strftime("%Y-%m-%dT%H:%M:%S"),
                        )
                        rows.append(row)
    if out:
        append_jsonl(out, rows)
        echo(f"appended {len(rows)} JSON lines to {out}")
    return rows


def append_jsonl(path, rows) -> None:
    """Append one JSON line per row to `path` (its folder is created); the results format of every bench."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "a") as fh:
        for row in rows:
            fh.write(json.dumps(row, default=float) + "\n")


def main(argv=None) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="wideflow bench", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small widths only (about a minute)")
    p.add_argument("--widths", type=float, nargs="+", help="widths m (e.g. 1e3 1e6)")
    p.add_argument("--samples", type=int, nargs="+", help="sample counts n")
    p.add_argument("--dtypes", nargs="+", default=["float64", "float32"])
    p.add_argument("--threads", type=int, nargs="+", help="thread counts (default: 1 and all)")
    p.add_argument("--kernels", nargs="+", default=["direct", "sorted"], choices=["direct", "sorted"])
    p.add_argument(
        "--peers",
        nargs="*",
        default=["numpy", "torch-auto", "torch-hand"],
        choices=["numpy", "torch-auto", "torch-hand"],
    )
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--out", default=None, help="append JSON lines here (default: none)")
    p.add_argument(
        "--user-widths",
        type=float,
        nargs="*",
        default=None,
        help="widths of the kernel vs wf.train table (float64; float32 from 1e8; default 1e5 1e6 1e7 "
        "1e8, --quick 1e5 1e6, none with --widths or --samples); none to skip it",
    )
    p.add_argument("--user-steps", type=int, nargs="+", default=[10, 1000])
    p.add_argument("--no-kernel-table", action="store_true", help="only the kernel vs wf.train table")
    args = p.parse_args(argv)
    if args.user_widths is None:  # a kernel-table selection (--widths / --samples) alone skips the user table
        args.user_widths = [] if (args.widths or args.samples) else [1e5, 1e6] if args.quick else [1e5, 1e6, 1e7, 1e8]
    if args.user_widths:
        cases = [(int(w), 10, "float32" if w >= 1e8 else "float64") for w in args.user_widths]
        print("== the user path: raw kernel vs wf.train (default options), same process, in turn")
        rows = user_path(cases, args.user_steps, threads=(args.threads or [0])[-1])
        if args.out:
            append_jsonl(args.out, rows)
        if args.no_kernel_table:
            return 0
        print("\n== kernels vs peers")
    all_threads = _core.threads_available()
    threads = args.threads or sorted({1, all_threads})
    if args.quick:
        widths = args.widths or [1e3, 1e5, 1e6]
        samples = args.samples or [10, 1000]
    else:
        widths = args.widths or [1e3, 1e4, 1e5, 1e6, 1e7]
        samples = args.samples or [10, 100, 1000, 10000]
    run(
        [int(w) for w in widths],
        samples,
        args.dtypes,
        threads,
        kernels=tuple(args.kernels),
        peers=tuple(args.peers),
        repeats=args.repeats,
        out=args.out,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
