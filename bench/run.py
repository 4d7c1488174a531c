"""Benchmark the wideflow kernels against NumPy and PyTorch CPU in the same process.

    python bench/run.py --quick                       # about a minute
    python bench/run.py --out bench/results/shallow.jsonl
    python bench/run.py --widths 1e7 1e8 --samples 10 --dtypes float32 --peers

See `python bench/run.py --help` and bench/README.md.
"""

import sys

from wideflow.benchmark import main

if __name__ == "__main__":
    sys.exit(main())
