"""Helpers for benchmarks: peak RSS of a child process, result files."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


#: Appended to a child's code: print its own peak RSS. ``VmHWM`` is the high-water mark of the
#: child's own address space; ``ru_maxrss`` is not usable here because Linux keeps it across
#: ``fork``/``execve``, so a child of a large parent would report the parent's size.
_PEAK_PROBE = """
def _technob_peak_kb():
    try:
        with open('/proc/self/status') as _f:
            for _line in _f:
                if _line.startswith('VmHWM'):
                    return int(_line.split()[1])
    except OSError:
        pass
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print('PEAK_KB', _technob_peak_kb())
"""


def run_child(code: str, timeout: float = 3600, stderr_log: Path | None = None) -> tuple[float, float, str]:
    """Run ``code`` in a fresh Python (its stderr appended to ``stderr_log`` when given).

    Returns
    -------
    peak_mib : float
        The child's own peak resident memory (``VmHWM``), MiB.
    wall_s : float
        Wall-clock seconds, start-up included.
    stdout : str
        What the child printed.
    """
    t0 = time.perf_counter()
    argv = [sys.executable, "-c", code + "\n" + _PEAK_PROBE]
    if stderr_log is None:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        err = proc.stderr
    else:
        with open(stderr_log, "a") as log:
            proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=log, text=True, timeout=timeout)
        err = Path(stderr_log).read_text()
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"child failed: {err[-2000:]}")
    lines = proc.stdout.strip().splitlines()
    peak_kb = int(next(line for line in reversed(lines) if line.startswith("PEAK_KB")).split()[1])
    return peak_kb / 1024.0, wall, "\n".join(line for line in lines if not line.startswith("PEAK_KB"))


def make_long_file(path: Path, minutes: float, *, structure: str = "short", seed: int = 2,
                   sample_rate: int = 44100) -> float:
    """Write ``minutes`` of a synthesised techno track, looped, as a 16-bit stereo WAV file.

    Written block by block (the file is never held in memory). ``structure`` is ``"short"``
    (28 bars) or ``"default"`` (96 bars, 3 minutes) of :mod:`technob_fx.synth`.

    Returns
    -------
    float
        Seconds written.
    """
    from technob_fx.core.io import AtomicAudioWriter
    from technob_fx.synth import DEFAULT_STRUCTURE, SHORT_STRUCTURE, synth_techno

    bars = SHORT_STRUCTURE if structure == "short" else DEFAULT_STRUCTURE
    audio, _ = synth_techno(bars, bpm=128.0, seed=seed, sample_rate=sample_rate)
    total = int(minutes * 60 * sample_rate)
    written = 0
    with AtomicAudioWriter(path, sample_rate, 2, bit_depth=16) as w:
        while written < total:
            block = audio[:, : min(audio.shape[1], total - written)]
            w.write(block)
            written += block.shape[1]
    return written / sample_rate


def save(name: str, data: dict) -> Path:
    """Write ``benchmarks/results/<name>.json``."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path


def self_peak_mib() -> float:
    """Peak RSS of this process so far, MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
