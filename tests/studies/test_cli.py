"""The command line: demo, reproduce dispatch, bench harness (runs, not timings)."""

import json
import os
import subprocess
import sys

import pytest


def wideflow(*args, cwd=None, timeout=300):
    return subprocess.run(
        [sys.executable, "-m", "wideflow", *args], cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


@pytest.mark.slow
def test_demo_writes_png_and_pdf(tmp_path):
    out = tmp_path / "out"
    proc = wideflow("demo", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    png = out / "demo_fit.png"
    assert png.exists() and png.stat().st_size > 10_000
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "demo_fit.pdf").read_bytes()[:5] == b"%PDF-"


def test_reproduce_rejects_unknown_paper():
    proc = wideflow("reproduce", "nosuchpaper")
    assert proc.returncode == 2
    assert "invalid choice" in proc.stderr and "nosuchpaper" in proc.stderr


def test_help_lists_commands():
    proc = wideflow("--help")
    assert proc.returncode == 0
    for cmd in ("reproduce", "demo", "bench"):
        assert cmd in proc.stdout


@pytest.mark.slow
def test_bench_prints_table_and_json(tmp_path):
    out = tmp_path / "bench.jsonl"
    proc = wideflow(
        "bench",
        "--widths",
        "3000",
        "--samples",
        "10",
        "--dtypes",
        "float64",
        "--threads",
        "1",
        "--peers",
        "numpy",
        "--repeats",
        "1",
        "--out",
        str(out),
    )
    assert proc.returncode == 0, proc.stderr
    assert "memory-copy probe" in proc.stdout
    assert "wideflow-sorted" in proc.stdout and "numpy" in proc.stdout
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert {r["impl"] for r in rows} == {"wideflow-direct", "wideflow-sorted", "numpy"}
    for r in rows:
        assert r["m"] == 3000 and r["n"] == 10 and r["sec_per_step"] > 0
        assert r["machine"]["cores"] == os.cpu_count()
        assert r["gbytes_per_s"] == pytest.approx(48 * 3000 / r["sec_per_step"] / 1e9)
