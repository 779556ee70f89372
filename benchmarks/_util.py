"""Helpers for benchmarks: peak RSS of a child process, result files."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def run_child(code: str, timeout: float = 3600) -> tuple[float, float, str]:
    """Run ``code`` in a fresh Python; return (peak RSS MiB, wall seconds, stdout)."""
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", "import resource\n" + code + "\n"
                           "print('PEAK_KB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"],
                          capture_output=True, text=True, timeout=timeout)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"child failed: {proc.stderr[-2000:]}")
    lines = proc.stdout.strip().splitlines()
    peak_kb = int(next(line for line in reversed(lines) if line.startswith("PEAK_KB")).split()[1])
    return peak_kb / 1024.0, wall, "\n".join(line for line in lines if not line.startswith("PEAK_KB"))


def save(name: str, data: dict) -> Path:
    """Write ``benchmarks/results/<name>.json``."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path


def self_peak_mib() -> float:
    """Peak RSS of this process so far, MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
