"""Enrollment on one process against enrollment on a local Ray cluster. Prints numbers only.

    .venv/bin/python benchmarks/ray_enroll.py [--dataset DIR | --characters 5 --per-character 200] [--workers 2]
        [--encoder NAME]

``--dataset`` enrolls a labelled folder (one sub-folder of images per character), for example
``../shared/data/charfaces``; without it, drawn characters.

Both embed every reference (a fresh index each time); the Ray time includes starting the cluster and
its actors, which a long-lived cluster pays once.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from reid.io.images import list_images
from reid.io.synthetic import write_dataset


def enroll_folder(dataset: Path, out: Path) -> int:
    """An enrollment JSON naming every character folder of ``dataset``; returns the number of images."""
    folders = sorted(p for p in dataset.iterdir() if p.is_dir() and list_images(p))
    out.write_text(json.dumps({p.name: str(p.resolve()) for p in folders}))
    return sum(len(list_images(p)) for p in folders)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", type=Path, help="a labelled folder to enroll instead of drawn characters")
    parser.add_argument("--characters", type=int, default=5)
    parser.add_argument("--per-character", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--encoder", default="charfaces_lite0")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="reid-ray-bench-") as work:
        root = Path(work)
        if args.dataset:
            images = enroll_folder(args.dataset, root / "enroll.json")
        else:
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
