"""Benchmarks of technob-fx: speed and memory as ratios against baselines run in the same process.

Run all with ``python -m benchmarks`` (or ``make bench``), one with
``python -m benchmarks.bench_<stage>``. Each writes ``benchmarks/results/<stage>.json``.
"""
