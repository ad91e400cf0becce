"""What the single-run benchmarks share: timing one call, and printing and saving a flat report."""

from __future__ import annotations

import json
import time
from pathlib import Path


def timed(run) -> tuple[float, object]:
    """(seconds, result) of one call."""
    start = time.perf_counter()
    out = run()
    return time.perf_counter() - start, out


def best_of(run, repeat: int) -> float:
    """The fastest of ``repeat`` timed calls, after one untimed call (first allocations, caches, exports)."""
    run()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def peak_gflops() -> float:
    """This process's FLOP ceiling: the best of several float32 2048 x 2048 matrix products on its threads."""
    import torch

    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    return 2 * 2048 ** 3 / best_of(lambda: a @ b, 5) / 1e9


def print_report(report: dict, *, column: str, json_path: Path | None = None) -> None:
    """A two-column Markdown table of ``report`` (floats to 3 decimals), and the JSON when asked."""
    print(f"| {column} | value |\n| --- | --- |")
    for key, value in report.items():
        print(f"| {key} | {value:.3f} |" if isinstance(value, float) else f"| {key} | {value} |")
    if json_path:
        json_path.write_text(json.dumps(report, indent=2) + "\n")
