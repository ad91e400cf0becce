"""Detection recall and precision where the truth is known: composite pages of face crops pasted at known boxes.

    .venv/bin/python benchmarks/detect_table.py --faces ../shared/data/charfaces [--pages 300] \
        [--detector animeface --detector lbp_cascade --cascade FILE] [--plugin-dir DIR] [--seed 0] [--json out.json]
    .venv/bin/python benchmarks/detect_table.py --artworks DIR --boxes BOXES.json [--detector ...] [--gray]

Each page (640 x 480) gets a face-free background (a colour gradient with blurred blobs and noise) and
1 to 4 face crops, each scaled to 48-192 px on its long side, at places that do not overlap. Crops are
drawn group by group (franchise/style from the folder's index.csv, else the folder name's prefix before
"__"), so small groups count as much as large ones. A crop carries margin around its face and detectors
box tighter, so a detection finds a pasted face when at least half of it lies inside the crop and it is
at least a quarter of the crop's width; recall is per group, precision over all detections (a false
face belongs to no group). Without --faces the crops are drawn characters.

With --artworks, real illustrations are scored instead: BOXES.json maps each image's path (relative to DIR)
to its true face boxes, [[left, top, right, bottom], ...], or is a `detections.json` that `reid detect --out`
wrote and a person corrected. The group is the image's folder. Box conventions differ between detectors,
so there a detection finds a face when its centre lies in the true box and its width is within a factor 2
of the true width.

--gray turns every page grey before the detectors see it (the manga case).

The last row is recall at equal precision: each detector's threshold raised (its boxes' own scores) until
its detections are at least as precise as the first --detector's.
"""

from __future__ import annotations

import argparse
import csv
import random
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from reid import plugins
from reid.models.detectors import load_detector
from reid.models.detectors.base import Box
from reid.errors import ReidError
from reid.io.files import read_json, write_json_atomic
from reid.io.images import list_images, load_image
from reid.search.metrics import detection_operating_point
from reid.io.synthetic import CHARACTERS, draw_character

PAGE = (640, 480)
INSIDE = 0.5  # share of the detection inside the pasted crop
MIN_WIDTH = 0.25  # detection width / crop width


def face_groups(folder: Path | None) -> dict[str, list]:
    """group -> face crops (paths, or drawn images without a folder)."""
    if folder is None:
        rng = random.Random(0)
        return {"drawn": [draw_character(rng.choice(CHARACTERS), rng, 128) for _ in range(40)]}
    style = {}
    index = folder / "index.csv"
    if index.is_file():
        with index.open(encoding="utf-8") as f:
            style = {(row["folder"], row["file"]): f"{row['franchise']}/{row['style']}" for row in csv.DictReader(f)}
    groups: dict[str, list] = {}
    for path in list_images(folder, recursive=True):
        group = style.get((path.parent.name, path.name), path.parent.name.split("__")[0])
        groups.setdefault(group, []).append(path)
    return groups


def background(rng: random.Random) -> Image.Image:
    a, b = (np.array([rng.randint(0, 255) for _ in range(3)], dtype=np.float32) for _ in range(2))
    t = np.linspace(0, 1, PAGE[0], dtype=np.float32)[None, :, None]
    page = Image.fromarray(np.broadcast_to(a + (b - a) * t, (PAGE[1], PAGE[0], 3)).astype(np.uint8))
    draw = ImageDraw.Draw(page)
    for _ in range(rng.randint(3, 8)):
        x, y, r = rng.randint(0, PAGE[0]), rng.randint(0, PAGE[1]), rng.randint(20, 160)
        draw.ellipse([x - r, y - r, x + r, y + r], fill=tuple(rng.randint(0, 255) for _ in range(3)))
    noise = np.random.default_rng(rng.randint(0, 2**31)).normal(0, 8, (PAGE[1], PAGE[0], 3))
    page = page.filter(ImageFilter.GaussianBlur(rng.uniform(2, 12)))
    return Image.fromarray(np.clip(np.asarray(page, dtype=np.float32) + noise, 0, 255).astype(np.uint8))


def compose(groups: dict[str, list], rng: random.Random) -> tuple[Image.Image, list[tuple[Box, str]]]:
    page, truth = background(rng), []
    for _ in range(rng.randint(1, 4)):
        group = rng.choice(sorted(groups))
        item = rng.choice(groups[group])
        face = item if isinstance(item, Image.Image) else load_image(item)
        scale = rng.randint(48, 192) / max(face.size)
        face = face.resize((max(1, round(face.width * scale)), max(1, round(face.height * scale))), Image.Resampling.LANCZOS)
        for _ in range(30):  # a free place, or the face is left off this page
            x, y = rng.randint(0, PAGE[0] - face.width), rng.randint(0, PAGE[1] - face.height)
            box = Box(x, y, x + face.width, y + face.height)
            if all(box.iou(other) == 0 for other, _ in truth):
                page.paste(face, (x, y))
                truth.append((box, group))
                break
    return page, truth


def inside(detection: Box, crop: Box) -> float:
    """The share of ``detection`` inside ``crop``, 0 when it is too small to be the crop's face."""
    if detection.right - detection.left < MIN_WIDTH * (crop.right - crop.left):
        return 0.0
    return detection.intersection(crop) / max(1, detection.area)


def centred(detection: Box, face: Box) -> float:
    """1 when the detection's centre lies in the true face box and its width is within a factor 2, else 0."""
    x, y = (detection.left + detection.right) / 2, (detection.top + detection.bottom) / 2
    ratio = (detection.right - detection.left) / max(1, face.right - face.left)
    return float(face.left <= x <= face.right and face.top <= y <= face.bottom and 0.5 <= ratio <= 2)


def score(found: list[Box], truth: list[tuple[Box, str]], match=inside) -> tuple[list[tuple[str, bool]], list[bool]]:
    """Per true face (group, found?), matched greedily, and per detection whether it matched a face."""
    pairs = sorted(((match(d, t), i, j) for i, d in enumerate(found) for j, (t, _) in enumerate(truth)), reverse=True)
    used_d, used_t = set(), set()
    for share, i, j in pairs:
        if share >= INSIDE and i not in used_d and j not in used_t:
            used_d.add(i)
            used_t.add(j)
    return [(group, j in used_t) for j, (_, group) in enumerate(truth)], [i in used_d for i in range(len(found))]


def artworks(folder: Path, boxes_file: Path) -> list[tuple[Image.Image, list[tuple[Box, str]]]]:
    """Each listed illustration with its true boxes, grouped by its folder."""
    listed = read_json(boxes_file, what="boxes file", error=ReidError)
    listed = listed.get("boxes", listed) if isinstance(listed, dict) else listed
    if not isinstance(listed, dict):
        raise ReidError(f"{boxes_file}: expected {{image path: [[left, top, right, bottom], ...]}}")
    pages = []
    for name, boxes in sorted(listed.items()):
        path = Path(name) if Path(name).is_absolute() else folder / name
        group = path.parent.name if path.parent != folder else folder.name
        pages.append((load_image(path), [(Box(*map(int, b)), group) for b in boxes]))
    return pages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--faces", type=Path)
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--detector", action="append", default=[])
    parser.add_argument("--cascade")
    parser.add_argument("--plugin-dir", action="append", default=[])
    parser.add_argument("--artworks", type=Path)
    parser.add_argument("--boxes", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--gray", action="store_true", help="turn every page grey first (manga)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if (args.artworks is None) != (args.boxes is None):
        parser.error("--artworks and --boxes go together")
    plugins.load_plugins(args.plugin_dir)
    if args.artworks:
        pages, match = artworks(args.artworks, args.boxes), centred
    else:
        groups = face_groups(args.faces)
        rng = random.Random(args.seed)
        pages, match = [compose(groups, rng) for _ in range(args.pages)], inside
    if args.gray:
        pages = [(page.convert("L").convert("RGB"), truth) for page, truth in pages]
    names = args.detector or ["animeface"]
    report = {}
    for name in names:
        detector = load_detector(name, **({"cascade": args.cascade} if args.cascade and name == "lbp_cascade" else {}))
        hits: dict[str, list[bool]] = {}
        marks: list[tuple[float, bool]] = []  # (score, a face?) per detection
        began = time.perf_counter()
        for page, truth in pages:
            found = detector.detect(page)
            matched, real = score(found, truth, match)
            for group, hit in matched:
                hits.setdefault(group, []).append(hit)
            marks += [(box.score, is_face) for box, is_face in zip(found, real)]
        false, found_total = sum(not hit for _, hit in marks), len(marks)
        faces = sum(len(v) for v in hits.values())
        recall = sum(sum(v) for v in hits.values()) / max(1, faces)
        precision = 1 - false / found_total if found_total else float("nan")
        seconds = (time.perf_counter() - began) / len(pages)
        report[name] = {"recall": recall, "precision": precision, "faces": faces, "detections": found_total,
                        "seconds_per_image": round(seconds, 4), "marks": marks,
                        "groups": {g: {"faces": len(v), "recall": float(np.mean(v))} for g, v in sorted(hits.items())}}
    print(f"{len(pages)} {'illustrations' if args.artworks else 'pages'}, {sum(len(t) for _, t in pages)} faces\n")
    print("| group | faces | " + " | ".join(f"{n} recall" for n in names) + " |")
    print("| --- | --- |" + " --- |" * len(names))
    for group in sorted(report[names[0]]["groups"]):
        row = [f"{report[n]['groups'][group]['recall']:.3f}" for n in names]
        print(f"| {group} | {report[names[0]]['groups'][group]['faces']} | " + " | ".join(row) + " |")
    print("| **all** | " + str(report[names[0]]["faces"]) + " | " + " | ".join(f"**{report[n]['recall']:.3f}**" for n in names) + " |")
    print("| precision (detections) |  | " + " | ".join(f"{report[n]['precision']:.3f} ({report[n]['detections']})" for n in names) + " |")
    print("| seconds per image (CPU) |  | " + " | ".join(f"{report[n]['seconds_per_image']:.3f}" for n in names) + " |")
    # recall at equal precision: each detector's own scores raised until it is as precise as the first one
    reference = report[names[0]]["precision"]
    equal = {n: detection_operating_point(report[n]["marks"], report[n]["faces"], reference) for n in names}
    print(f"| recall at {names[0]}'s precision ({reference:.3f}) |  | "
          + " | ".join(f"{equal[n]['recall']:.3f} (score >= {equal[n]['threshold']:.3f})" for n in names) + " |")
    for n in names:
        report[n]["recall_at_reference_precision"] = equal[n]
    if args.json:
        write_json_atomic(args.json, report)


if __name__ == "__main__":
    main()
