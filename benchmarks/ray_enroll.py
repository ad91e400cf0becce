"""Enrollment on one process against enrollment on a local Ray cluster, on drawn characters. Prints numbers only.

    .venv/bin/python benchmarks/ray_enroll.py [--characters 5] [--per-character 200] [--workers 2] [--encoder NAME]

Both embed every reference (a fresh index each time); the Ray time includes starting the cluster and
its actors, which a long-lived cluster pays once.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from reid.synthetic import write_dataset


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--characters", type=int, default=5)
    parser.add_argument("--per-character", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--encoder", default="charfaces_lite0")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="reid-ray-bench-") as work:
        root = Path(work)
        write_dataset(root, characters=args.characters, per_character=args.per_character, size=128, seed=0)
        images = args.characters * args.per_character
        reid = [str(Path(sys.executable).parent / "reid")]
        print("| path | images | seconds | images / s |\n| --- | --- | --- | --- |")
        for name, extra in (("one process", ["--index", str(root / "local.faiss")]),
                            (f"Ray, local, {args.workers} workers", ["--index", str(root / "ray.faiss"), "--ray", "local",
                                                                      "--workers", str(args.workers)])):
            start = time.perf_counter()
            subprocess.run([*reid, "enroll", str(root / "enroll.json"), "--encoder", args.encoder, "--compact",
                            "--keep-outliers", "--json", *extra], check=True, capture_output=True)
            seconds = time.perf_counter() - start
            print(f"| {name} | {images:,} | {seconds:.1f} | {images / seconds:.1f} |")


if __name__ == "__main__":
    main()
