"""Gradient flow vs gradient descent at equal accuracy against the closed form (issue: gradient flow).

Problem: Tarmoun et al.'s 5 x 10 target, k = 50, spectral initialization (u0 = 0.6, v0 = 0.05), whose flow
X(t) = Phi diag(x_i(t)) Psi^T is known in closed form. GD with lr = 1e-3 (the paper's proxy for the flow)
reaches t = T after T / lr steps with an O(lr) error; the adaptive Runge-Kutta flow is run at the loosest
rtol (of 1e-2 ... 1e-12) whose error at T is no larger, recording only t = 0 and T (each requested record
time ends a step there, so a dense record costs up to one step per record). Reported: gradient evaluations, wall time
(median of repeats), and the error ||X(T) - X_closed(T)||_F / ||Y||_F of each.

    python bench/bench_flow.py [--T 2] [--out bench/results/flow.jsonl]

Then the user path: the C++ integrator alone vs `wf.train(method="flow")` with default options at 10 and 1000
accepted steps, and the peak RSS of a fresh process.

    python bench/bench_flow.py --relu [options of bench_relu_flow.py]

runs the exact ReLU flow against the Williams GD runs instead (bench/bench_relu_flow.py: m = 1000 and 10^5).
"""

import argparse
import os
import statistics
import sys
import time

import numpy as np

import wideflow as wf
from wideflow import linear_theory as lt
from wideflow.benchmark import append_jsonl, machine_line


def timed(fn, repeats=5):
    out, times = None, []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return out, statistics.median(times)


def user_path(Y, U0, V0, rtol=1e-8, steps_list=(10, 1000), rounds=5):
    """The flow kernel alone (the C++ integrator taking `steps` accepted steps) against wf.train(method="flow")
    with default options to the flow time those steps reach, in turn in one process; per accepted step.
    The default record (about 200 log-spaced times) ends a step at each record time, so wf.train takes
    more (shorter) steps than the kernel run: the ratio counts that."""
    from wideflow import _core
    from wideflow.benchmark import interleaved

    rows = []
    for steps in steps_list:
        probe = _core.factorization.Flow64(U0.copy(), V0.copy(), Y, "dopri5")
        t_out, l_out = np.empty(steps), np.empty(steps)
        probe.integrate(1e9, rtol, rtol * 1e-2, steps, t_out, l_out)
        t_end = float(t_out[-1])
        state = {}

        def kernel():
            f = _core.factorization.Flow64(U0.copy(), V0.copy(), Y, "dopri5")
            f.integrate(t_end, rtol, rtol * 1e-2, steps + 10, np.empty(steps + 10), np.empty(steps + 10))

        def train():
            fac = wf.Factorization(U0, V0)
            state["run"] = wf.train(fac, Y, method="flow", t_end=t_end, rtol=rtol, atol=rtol * 1e-2, progress=False)

        med = interleaved({"kernel": kernel, "train": train}, rounds, stat="min")
        accepted = state["run"].info["accepted"]
        rows.append(
            {
                "kind": "flow_user_path",
                "steps": steps,
                "t_end": t_end,
                "kernel_s": med["kernel"],
                "train_s": med["train"],
                "train_accepted": accepted,
                "ratio": med["kernel"] / med["train"],
                "ratio_per_step": (med["kernel"] / steps) / (med["train"] / accepted),
            }
        )
        print(
            f"{steps:>6} steps (t = {t_end:.3g}): kernel {med['kernel'] * 1e3:8.3f} ms, wf.train {med['train'] * 1e3:8.3f} ms "
            f"({accepted} accepted steps: the record times end steps); rate ratio {rows[-1]['ratio']:.3f}, "
            f"per accepted step {rows[-1]['ratio_per_step']:.3f}"
        )
    return rows


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if "--relu" in argv:  # the exact ReLU flow's rows
        here = os.path.dirname(os.path.abspath(__file__))
        sys.path.insert(0, here)
        import bench_relu_flow

        return bench_relu_flow.main([a for a in argv if a != "--relu"])
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--T", type=float, default=2.0)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    Y = np.random.default_rng(0).standard_normal((5, 10))
    U0, V0 = lt.spectral_init(Y, 50, 0.6, 0.05, seed=0)
    X_T = lt.spectral_solution(args.T, Y, 0.6, 0.05)
    scale = np.linalg.norm(Y)

    def err(fac):
        return float(np.linalg.norm(fac.product() - X_T) / scale)

    def gd():
        fac = wf.Factorization(U0, V0)
        wf.train(fac, Y, lr=args.lr, steps=int(round(args.T / args.lr)), metrics=False, progress=False)
        return fac

    fac, t_gd = timed(gd)
    e_gd, evals_gd = err(fac), int(round(args.T / args.lr))
    rows = [{"method": "gd", "lr": args.lr, "gradient_evals": evals_gd, "sec": t_gd, "error": e_gd}]
    for tableau in ("dopri5", "bs32"):
        chosen = None
        for rtol in (1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9, 1e-10, 1e-11, 1e-12):
            fac = wf.Factorization(U0, V0)
            run = wf.train(
                fac,
                Y,
                method="flow",
                t_end=args.T,
                rtol=rtol,
                atol=rtol * 1e-2,
                tableau=tableau,
                metrics=False,
                progress=False,
                record=[],
            )
            if err(fac) <= e_gd:
                chosen = rtol
                break
        if chosen is None:
            continue

        def flow(rtol=chosen, tableau=tableau):
            f = wf.Factorization(U0, V0)
            r = wf.train(
                f,
                Y,
                method="flow",
                t_end=args.T,
                rtol=rtol,
                atol=rtol * 1e-2,
                tableau=tableau,
                metrics=False,
                progress=False,
                record=[],
            )
            return f, r

        (fac, run), t_flow = timed(flow)
        rows.append(
            {
                "method": f"flow-{tableau}",
                "rtol": chosen,
                "gradient_evals": run.info["gradient_evals"],
                "accepted": run.info["accepted"],
                "sec": t_flow,
                "error": err(fac),
            }
        )
        # and the flow at a tight tolerance, for the record
        (fac, run), t_tight = timed(lambda: flow(rtol=1e-10))
        rows.append(
            {
                "method": f"flow-{tableau}",
                "rtol": 1e-10,
                "gradient_evals": run.info["gradient_evals"],
                "accepted": run.info["accepted"],
                "sec": t_tight,
                "error": err(fac),
            }
        )
    print(f"flow vs GD to t = {args.T} on the 5 x 10, k = 50 spectral problem (error vs closed form)")
    print(f"{'method':<14}{'setting':>12}{'grad evals':>12}{'ms':>10}{'rel. error':>12}{'evals vs GD':>13}")
    for r in rows:
        setting = f"lr={r['lr']:g}" if r["method"] == "gd" else f"rtol={r['rtol']:g}"
        print(
            f"{r['method']:<14}{setting:>12}{r['gradient_evals']:>12}{r['sec'] * 1e3:>10.3f}{r['error']:>12.2e}"
            f"{evals_gd / r['gradient_evals']:>12.1f}x"
        )
    print("\nthe user path: the flow kernel alone vs wf.train(method='flow') with default options, rtol = 1e-8")
    rows += user_path(Y, U0, V0)
    from wideflow.benchmark import peak_rss, rss_verdict

    mem = peak_rss(
        "import numpy as np\nfrom wideflow import linear_theory as lt\n"
        "Y = np.random.default_rng(0).standard_normal((5, 10))\nU0, V0 = lt.spectral_init(Y, 50, 0.6, 0.05, seed=0)",
        "wf.train(wf.Factorization(U0, V0), Y, method='flow', t_end=2.0, rtol=1e-8, atol=1e-10, progress=False)",
    )
    rows.append({"kind": "flow_rss", **mem, "param_bytes": (5 + 10) * 50 * 8})
    print(f"peak RSS of a fresh process running it: {rss_verdict(mem['peak_rss'], (5 + 10) * 50 * 8)}")
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        machine = machine_line()
        append_jsonl(args.out, [dict({"kind": "flow_vs_gd"}, **r, T=args.T, machine=machine) for r in rows])


if __name__ == "__main__":
    main()
