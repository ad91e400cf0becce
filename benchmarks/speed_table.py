"""Each speed target beside its anchor, measured in the same run (ratios hold on a shared machine, absolute numbers
do not): the embedding pipeline against the FLOP ceiling, torch against ONNX Runtime, detection against
`animeface`, `reid --help` against an empty Python, the exact index build against faiss' own add. Prints numbers
only.

    .venv/bin/python benchmarks/speed_table.py [--images 600] [--pages 30] [--references 100000] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from measure import best_of, peak_gflops  # benchmarks/measure.py, beside this script

REID = "from reid.app.entry import main; main()"


def child_cpu(command: list[str], repeat: int = 5) -> float:
    """Median CPU seconds (user + system) of a command run as a child process."""
    spent = []
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        spent.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return sorted(spent)[len(spent) // 2]


def drawn_faces(folder: Path, count: int, size: int = 128) -> list[Path]:
    from reid.io.synthetic import CHARACTERS, draw_character

    rng = random.Random(0)
    paths = []
    for i in range(count):
        path = folder / "AB"[i % 2] / f"face_{i:04d}.png"  # two "characters", for enroll
        path.parent.mkdir(exist_ok=True)
        draw_character(rng.choice(CHARACTERS), rng, size).save(path)
        paths.append(path)
    return paths


def drawn_pages(folder: Path, count: int) -> list[Path]:
    """Illustrations of 0.5 to 3 MP as JPEG, each with a few drawn characters."""
    from PIL import Image

    from reid.io.synthetic import CHARACTERS, draw_character

    rng = random.Random(1)
    paths = []
    for i in range(count):
        megapixels = rng.uniform(0.5, 3.0)
        width = int((megapixels * 1e6 * 4 / 3) ** 0.5)
        page = Image.new("RGB", (width, int(width * 3 / 4)), "white")
        for _ in range(3):
            side = rng.randint(page.height // 6, page.height // 3)
            page.paste(draw_character(rng.choice(CHARACTERS), rng, side),
                       (rng.randint(0, page.width - side), rng.randint(0, page.height - side)))
        path = folder / f"page_{i:03d}.jpg"
        page.save(path, quality=90)
        paths.append(path)
    return paths


def pipeline_rate(paths: list[Path], backend: str) -> float:
    """Images a second through the whole pipeline (decode to vector) of the default encoder."""
    from reid.models.embedding import embed_paths
    from reid.models.encoders import load_encoder

    os.environ["REID_BACKEND"] = backend
    encoder = load_encoder(None)
    return len(paths) / best_of(lambda: embed_paths(encoder, paths), 2)


def network_rate(backend: str, batch: int = 32) -> float:
    """Passes a second of the default encoder's network alone, on a batch of random pixels."""
    import torch

    from reid.models.encoders import load_encoder

    os.environ["REID_BACKEND"] = backend
    fused = load_encoder(None)
    metric = next(part for part, _ in getattr(fused, "parts", [(fused, 1.0)]) if hasattr(part, "weights"))
    pixels = torch.randn(batch, 3, metric.input_size, metric.input_size)
    with torch.no_grad():
        return batch / best_of(lambda: metric.run_network(pixels), 3)


def passes_gflop() -> tuple[float, int]:
    """GFLOP of one pass of the default encoder's network, and passes an image (2 with the flip)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from reid.models.encoders import load_encoder

    fused = load_encoder(None)
    metric = next(part for part, _ in getattr(fused, "parts", [(fused, 1.0)]) if hasattr(part, "weights"))
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        metric.forward(torch.randn(1, 3, metric.input_size, metric.input_size))
    return counter.get_total_flops() / 1e9, 2 if metric.flip else 1


def detect_cpu(pages: Path, detector: str) -> float:
    """CPU seconds an illustration of the whole `reid detect` command (start-up included)."""
    count = len(list(pages.iterdir()))
    return child_cpu([sys.executable, "-c", REID, "detect", str(pages), "--detector", detector], repeat=1) / count


def index_build(references: int, dim: int = 944) -> tuple[float, float]:
    import faiss
    import numpy as np

    from reid.search.index import ReferenceIndex

    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((references, dim), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    labels = [f"c{i % max(1, references // 20)}" for i in range(references)]

    def plain():
        faiss.IndexFlatIP(dim).add(vectors)

    with tempfile.TemporaryDirectory() as folder:
        ours = best_of(lambda: ReferenceIndex.build(vectors, labels).save(Path(folder) / "x.faiss"), 2)
    return ours, best_of(plain, 2)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=600)
    parser.add_argument("--pages", type=int, default=30)
    parser.add_argument("--references", type=int, default=100_000)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    report: dict[str, float | str] = {}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        faces, pages = Path(tmp) / "faces", Path(tmp) / "pages"
        faces.mkdir()
        pages.mkdir()
        paths = drawn_faces(faces, args.images)
        drawn_pages(pages, args.pages)
        # before this process loads torch: its idle threads would share the cores with the children
        help_rows = []
        empty = child_cpu([sys.executable, "-c", "pass"])
        for label, command in (("reid --help", ["--help"]), ("reid classify --help", ["classify", "--help"])):
            spent = child_cpu([sys.executable, "-c", REID, *command])
            report[f"{label.replace(' ', '_')}_cpu_s"] = spent
            help_rows.append((f"`{label}`", f"{spent:.3f} CPU-s", f"empty python {empty:.3f} CPU-s", f"{spent / empty:.1f}x"))

        gflops = peak_gflops()
        gflop, passes = passes_gflop()
        ceiling = gflops / (gflop * passes)
        for backend in ("torch", "onnx"):
            try:
                rate = pipeline_rate(paths, backend)
            except Exception as exc:  # onnxruntime missing: the row says so
                rows.append((f"embedding pipeline, {backend}", f"not measured ({type(exc).__name__})", "", ""))
                continue
            report[f"pipeline_{backend}_images_per_s"] = rate
            rows.append((f"embedding pipeline, {backend} ({args.images} drawn faces, decode to vector)",
                         f"{rate:.1f} images/s", f"FLOP ceiling {ceiling:.0f} images/s ({gflops:.0f} GFLOP/s, "
                         f"{gflop:.3f} GFLOP x {passes} passes)", f"{rate / ceiling:.1%}"))
        enroll_json = Path(tmp) / "enroll.json"
        enroll_json.write_text(json.dumps({"A": str(faces / "A"), "B": str(faces / "B")}))
        os.environ.pop("REID_BACKEND", None)  # the command as users run it: the default backend
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", REID, "enroll", str(enroll_json), "--rebuild"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        command_rate = args.images / (time.perf_counter() - start)
        report["enroll_command_images_per_s"] = command_rate
        rows.append(("`reid enroll`, default backend, start-up included", f"{command_rate:.1f} images/s", f"ceiling {ceiling:.0f} images/s",
                     f"{command_rate / ceiling:.1%}"))
        for backend in ("torch", "onnx"):
            try:
                report[f"network_{backend}_per_s"] = network_rate(backend)
            except Exception as exc:
                report[f"network_{backend}_per_s"] = f"not measured ({type(exc).__name__})"
        net = {b: report[f"network_{b}_per_s"] for b in ("torch", "onnx")}
        rows.append(("network alone, torch (batch 32)", _rate(net["torch"], "passes/s"),
                     f"ONNX Runtime {_rate(net['onnx'], 'passes/s')}", _ratio(net["torch"], net["onnx"])))

        learned, old = detect_cpu(pages, "charfaces_fcos"), detect_cpu(pages, "animeface")
        report.update(detect_fcos_cpu_s=learned, detect_animeface_cpu_s=old)
        rows.append((f"`reid detect`, {args.pages} drawn illustrations of 0.5-3 MP, default detector",
                     f"{learned:.2f} CPU-s an image", f"animeface {old:.2f} CPU-s an image", f"{learned / old:.2f}x"))


        rows += help_rows
    ours, plain = index_build(args.references)
    report.update(index_build_s=ours, faiss_add_s=plain)
    rows.append((f"exact index build, {args.references:,} x 944, label map and save included", f"{ours:.2f} s",
                 f"faiss IndexFlatIP.add {plain:.2f} s", f"{ours / plain:.1f}x"))

    print("| what | reid | anchor | share or ratio |\n| --- | --- | --- | --- |")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


def _rate(value, unit: str) -> str:
    return f"{value:.1f} {unit}" if isinstance(value, float) else str(value)


def _ratio(a, b) -> str:
    return f"{a / b:.2f}x" if isinstance(a, float) and isinstance(b, float) else ""


if __name__ == "__main__":
    main()
