"""Embedding throughput of an encoder on a folder of images (or generated ones). Prints numbers only.

    .venv/bin/python benchmarks/embed_speed.py [FOLDER] [--encoder NAME] [--repeat 3]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from reid import plugins
from reid.models.embedding import embed_paths
from reid.models.encoders import load_encoder
from reid.io.images import list_images
from reid.io.synthetic import CHARACTERS, draw_character


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("folder", nargs="?", type=Path)
    parser.add_argument("--encoder")
    parser.add_argument("--plugin-dir", action="append", default=[])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    plugins.load_plugins(args.plugin_dir)
    encoder = load_encoder(args.encoder)
    with tempfile.TemporaryDirectory() as tmp:
        if args.folder:
            paths = list_images(args.folder, recursive=True)
        else:
            rng = random.Random(0)
            paths = []
            for i in range(200):
                path = Path(tmp) / f"{i}.png"
                draw_character(CHARACTERS[i % len(CHARACTERS)], rng, 128).save(path)
                paths.append(path)
        embed_paths(encoder, paths[:8])  # warm-up
        times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            embed_paths(encoder, paths)
            times.append(time.perf_counter() - start)
    best = min(times)
    print(f"encoder={encoder.name} device={encoder.device} images={len(paths)} "
          f"best={best:.2f}s ms_per_image={1000 * best / len(paths):.2f} images_per_s={len(paths) / best:.1f}")


if __name__ == "__main__":
    main()
