"""Detector speed and detection rate on a folder of illustrations (or generated pages). Prints numbers only.

    .venv/bin/python benchmarks/detect_speed.py [FOLDER] [--detector animeface] [--min-face N] [--cascade FILE]
"""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path

from PIL import Image

from reid import plugins
from reid.models.detectors import load_detector
from reid.io.images import list_images, load_image
from reid.io.synthetic import CHARACTERS, draw_character


def generated_pages(count: int = 40) -> list[Image.Image]:
    """White 512 x 384 pages, each with three drawn characters of 96 to 160 px."""
    rng = random.Random(0)
    pages = []
    for _ in range(count):
        page = Image.new("RGB", (512, 384), "white")
        for k in range(3):
            size = rng.randint(96, 160)
            page.paste(draw_character(rng.choice(CHARACTERS), rng, size), (16 + 165 * k, rng.randint(0, 384 - size)))
        pages.append(page)
    return pages


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("folder", nargs="?", type=Path)
    parser.add_argument("--detector", default="animeface")
    parser.add_argument("--min-face", type=int)
    parser.add_argument("--cascade")
    parser.add_argument("--plugin-dir", action="append", default=[])
    args = parser.parse_args()
    plugins.load_plugins(args.plugin_dir)
    options = {k: v for k, v in (("min_face", args.min_face), ("cascade", args.cascade)) if v is not None}
    detector = load_detector(args.detector, **options)
    images = [load_image(p) for p in list_images(args.folder, recursive=True)] if args.folder else generated_pages()
    start = time.perf_counter()
    found = [detector.detect(image) for image in images]  # images are decoded first: this times detection alone
    seconds = time.perf_counter() - start
    megapixels = sum(image.width * image.height for image in images) / 1e6
    print(f"detector={detector.name} images={len(images)} megapixels={megapixels:.1f} with_face={sum(map(bool, found))} "
          f"faces={sum(map(len, found))} rate={sum(map(bool, found)) / len(images):.3f} "
          f"s_per_image={seconds / len(images):.3f} s_per_megapixel={seconds / megapixels:.3f}")


if __name__ == "__main__":
    main()
