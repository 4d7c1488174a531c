"""The `wideflow` command line (also `python -m wideflow`).

    wideflow demo [--out DIR]                                  one-minute demo figure
    wideflow reproduce williams2019|tarmoun2021|du2018 [--quick] [--out DIR]
    wideflow bench [...]                                       kernel benchmarks (see --help)
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time

PAPERS = {
    "williams2019": "Williams et al. 2019: shallow univariate ReLU nets, kernel vs adaptive regimes",
    "tarmoun2021": "Tarmoun et al. 2021: two-layer linear factorization dynamics",
    "du2018": "Du, Hu & Lee 2018: layers are automatically balanced",
}


def _reproduce(args) -> int:
    try:
        module = importlib.import_module(f"wideflow.experiments.{args.paper}")
    except ModuleNotFoundError as exc:
        if exc.name == f"wideflow.experiments.{args.paper}":
            print(f"wideflow reproduce: {args.paper} is not available in this version", file=sys.stderr)
            return 2
        raise
    out = args.out or f"wideflow-out/{args.paper}"
    t0 = time.perf_counter()
    report = module.reproduce(out, quick=args.quick)
    print(f"{args.paper}: wrote {report} ({time.perf_counter() - t0:.0f} s)")
    return 0


def _demo(args) -> int:
    from .experiments import demo

    t0 = time.perf_counter()
    png = demo.run(args.out)
    print(f"demo: wrote {png} ({time.perf_counter() - t0:.0f} s)")
    return 0


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "bench":  # the bench has its own parser
        from .benchmark import main as bench_main

        return bench_main(argv[1:])
    parser = argparse.ArgumentParser(prog="wideflow", description="Wide networks trained by fused C++ "
                                     "gradient descent, measured against the limits theory predicts.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("reproduce", help="reproduce a paper's figures and report")
    p.add_argument("paper", choices=sorted(PAPERS), help="; ".join(f"{k}: {v}" for k, v in PAPERS.items()))
    p.add_argument("--quick", action="store_true", help="smaller runs, about a minute on 2 cores")
    p.add_argument("--out", default=None, help="output folder (default wideflow-out/PAPER)")
    p.set_defaults(func=_reproduce)
    p = sub.add_parser("demo", help="fit 10 square-wave points in both regimes and write a PNG")
    p.add_argument("--out", default="wideflow-out", help="output folder")
    p.set_defaults(func=_demo)
    sub.add_parser("bench", help="benchmark the kernels (wideflow bench --help)")
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
