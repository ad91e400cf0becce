"""The default encoder's network on the CPU, side by side in one run: eager torch as it was loaded before (the
baseline), batch norm folded, folded + channels-last (the default now), and ONNX Runtime; then whole embedding
(decoding, resizing, flip and the fused colour part included) with decoding on the main thread as before and
with the decoding thread pool; against the machine's FLOP ceiling (a large float32 matrix product). Prints
numbers only.

    .venv/bin/python benchmarks/inference_backends.py [--images 256] [--json FILE]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import random
import tempfile
from pathlib import Path

import torch

from measure import best_of, peak_gflops  # benchmarks/measure.py, beside this script


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    from torch.utils.flop_counter import FlopCounterMode

    from reid.io.images import load_image
    from reid.models import embedding
    from reid.models.encoders import load_encoder
    from reid.models.encoders.inference import fold_batchnorm
    from reid.models.encoders.onnx_backend import onnx_network
    from reid.models.encoders.trained import _Forward
    from reid.io.synthetic import CHARACTERS, draw_character

    os.environ.pop("REID_BACKEND", None)
    fused = load_encoder(None)
    metric = next(part for part, _ in getattr(fused, "parts", [(fused, 1.0)]) if hasattr(part, "weights"))
    size = metric.input_size
    from reid.models.networks.encoder_nets import MetricNet
    from reid.models.encoders.trained import load_into

    eager = load_into(MetricNet(metric.embedding_dim, metric.arch), metric.weights, "baseline").eval()
    folded = copy.deepcopy(eager)
    fold_batchnorm(folded)
    folded_cl = copy.deepcopy(folded).to(memory_format=torch.channels_last)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["REID_CACHE_DIR"] = tmp
        onnx, why = onnx_network(_Forward(metric), metric.weights, size, extra="benchmark")
        report: dict = {"threads": torch.get_num_threads(), "peak_gflops": peak_gflops()}
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            eager(torch.randn(1, 3, size, size))
        report["gflops_per_pass"] = counter.get_total_flops() / 1e9
        passes = 2 if metric.flip else 1
        report["ceiling_images_per_s"] = report["peak_gflops"] / (report["gflops_per_pass"] * passes)
        networks = {"eager torch (before)": lambda x: eager(x), "batch norm folded": lambda x: folded(x),
                    "folded + channels-last (default)": lambda x: folded_cl(x.contiguous(memory_format=torch.channels_last))}
        if onnx is not None:
            networks["ONNX Runtime"] = lambda x: onnx(x.numpy())
        else:
            report["onnx_skipped"] = why
        rows = []
        for batch in (1, 32):
            x = torch.randn(batch, 3, size, size)
            for name, run in networks.items():
                with torch.no_grad():
                    seconds = best_of(lambda: run(x), args.repeat if batch > 1 else 10 * args.repeat)
                rows.append({"network": name, "batch": batch, "ms_per_pass": 1000 * seconds / batch})
        report["networks"] = rows

        rng = random.Random(0)
        paths = []
        for i in range(args.images):
            path = Path(tmp) / f"{i:04d}.png"
            draw_character(CHARACTERS[i % len(CHARACTERS)], rng, 128).save(path)
            paths.append(path)

        def serial_images(paths, failures, progress):  # decoding on the main thread, as before
            for path in paths:
                yield path, load_image(path)
                progress.advance(1)

        pipeline = {}
        threaded = embedding.readable_images
        for name, network, reader in [
            ("eager torch, serial decoding (before)", eager, serial_images),
            ("folded + channels-last torch, decoding thread pool (default)", None, threaded),
        ]:
            original = metric.module
            if network is not None:
                metric.module = network
            metric._backend, metric._onnx = "torch", None
            embedding.readable_images = reader
            try:
                seconds = best_of(lambda: embedding.embed_paths(fused, paths), args.repeat)
            finally:
                metric.module, embedding.readable_images = original, threaded
            pipeline[name] = len(paths) / seconds
        if onnx is not None:
            metric._backend, metric._onnx = "onnx", onnx
            pipeline["ONNX Runtime, decoding thread pool ($REID_BACKEND=onnx)"] = len(paths) / best_of(
                lambda: embedding.embed_paths(fused, paths), args.repeat)
        report["pipeline_images_per_s"] = pipeline

    print(f"{report['threads']} threads; float32 matrix product {report['peak_gflops']:.1f} GFLOP/s; "
          f"{metric.name}: {report['gflops_per_pass']:.3f} GFLOP a pass, {passes} passes an image (flip) -> "
          f"ceiling {report['ceiling_images_per_s']:.0f} images/s\n")
    print("| network | batch | ms a pass |\n| --- | --- | --- |")
    for row in rows:
        print(f"| {row['network']} | {row['batch']} | {row['ms_per_pass']:.2f} |")
    print(f"\n| embedding {args.images} drawn 128 px images, {fused.name} | images/s |\n| --- | --- |")
    for name, rate in pipeline.items():
        print(f"| {name} | {rate:.1f} |")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
