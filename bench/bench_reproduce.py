"""What a reproduction costs and whether it resumes: `wideflow reproduce PAPER --quick` end to end, killed
(SIGKILL) at random moments and resumed, compared with an uninterrupted run; then a rerun on the complete
store (figures + report only).

    python bench/bench_reproduce.py [--paper williams2019] [--kills 5] [--seed 0] [--out bench/results/reproduce.jsonl]

Reported: the uninterrupted wall time, the stored-run count at each kill, the time of the final resume, whether
the resumed report's numbers (everything above its "## Provenance" section, which holds the timings) equal the
uninterrupted report's, and the medians of three reruns on the complete store.
"""

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time

from wideflow.benchmark import machine_line
from wideflow.sweeps.store import stored_runs


def _cmd(paper, out):
    return [sys.executable, "-m", "wideflow", "reproduce", paper, "--quick", "--out", out, "--progress", "off"]


def _numbers(out) -> str:
    with open(os.path.join(out, "report.md"), encoding="utf-8") as fh:
        return fh.read().split("## Provenance")[0]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--paper", default="williams2019")
    p.add_argument("--kills", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        ref, killed = os.path.join(tmp, "ref"), os.path.join(tmp, "killed")
        t0 = time.perf_counter()
        subprocess.run(_cmd(args.paper, ref), check=True, stdout=subprocess.DEVNULL)
        full = time.perf_counter() - t0
        total = stored_runs(ref)
        kills = []
        for _ in range(args.kills):
            wait = rng.uniform(2.0, max(3.0, 0.15 * full))  # several kills before the store is complete
            proc = subprocess.Popen(_cmd(args.paper, killed), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(wait)
            finished = proc.poll() is not None
            if not finished:
                proc.send_signal(signal.SIGKILL)
            proc.wait()
            kills.append({"after_s": round(wait, 2), "stored": stored_runs(killed), "finished_before_kill": finished})
        t0 = time.perf_counter()
        subprocess.run(_cmd(args.paper, killed), check=True, stdout=subprocess.DEVNULL)
        resume = time.perf_counter() - t0
        same = _numbers(killed) == _numbers(ref)
        reruns = []
        for _ in range(3):
            t0 = time.perf_counter()
            subprocess.run(_cmd(args.paper, ref), check=True, stdout=subprocess.DEVNULL)
            reruns.append(time.perf_counter() - t0)
    rec = {
        "bench": "reproduce",
        "paper": args.paper,
        "machine": machine_line(),
        "runs": total,
        "uninterrupted_s": round(full, 2),
        "kills": kills,
        "final_resume_s": round(resume, 2),
        "report_numbers_identical": same,
        "rerun_complete_store_s": [round(r, 2) for r in reruns],
        "rerun_median_s": round(statistics.median(reruns), 2),
    }
    print(json.dumps(rec, indent=1))
    if args.out:
        with open(args.out, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(rec) + "\n")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
