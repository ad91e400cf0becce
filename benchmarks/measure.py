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


def print_report(report: dict, *, column: str, json_path: Path | None = None) -> None:
    """A two-column Markdown table of ``report`` (floats to 3 decimals), and the JSON when asked."""
    print(f"| {column} | value |\n| --- | --- |")
    for key, value in report.items():
        print(f"| {key} | {value:.3f} |" if isinstance(value, float) else f"| {key} | {value} |")
    if json_path:
        json_path.write_text(json.dumps(report, indent=2) + "\n")
