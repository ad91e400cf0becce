"""Video throughput: a drawn video (shots of 1-3 characters on their own backgrounds) through `cluster`'s
pipeline, each stage timed on its own, then end to end. Prints numbers only.

    .venv/bin/python benchmarks/video_speed.py [--seconds 60] [--fps 24] [--width 640] [--every 1] [--json FILE]
"""

from __future__ import annotations

import argparse
import random
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from measure import print_report, timed  # benchmarks/measure.py, beside this script


def write_episode(path: Path, seconds: float, fps: int, width: int, seed: int = 0) -> int:
    """Shots of 1.5-5 s with 1-3 drawn characters each; returns the number of shots."""
    import av

    from reid.io.synthetic import CHARACTERS, draw_character

    rng = random.Random(seed)
    height = width * 9 // 16 // 2 * 2
    shots, t = 0, 0.0
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps, options={"preset": "veryfast", "crf": "23"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        while t < seconds:
            length = min(rng.uniform(1.5, 5.0), seconds - t)
            page = Image.new("RGB", (width, height), tuple(rng.randint(60, 230) for _ in range(3)))
            for k in range(rng.randint(1, 3)):
                side = rng.randint(height // 4, height // 2)
                face = draw_character(CHARACTERS[rng.randrange(len(CHARACTERS))], rng, side)
                page.paste(face, (rng.randint(0, width - side), rng.randint(0, height - side)))
            frames = max(1, round(length * fps))
            for k in range(frames):
                pan = page.transform(page.size, Image.Transform.AFFINE, (1, 0, k * 0.5, 0, 1, 0))
                for packet in stream.encode(av.VideoFrame.from_ndarray(np.asarray(pan), format="rgb24")):
                    container.mux(packet)
            shots, t = shots + 1, t + frames / fps
        for packet in stream.encode():
            container.mux(packet)
    return shots


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--fps", type=int, default=24)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--every", type=float, default=1.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    from reid.jobs.cluster import cluster_folder
    from reid.models.clustering import cluster_vectors
    from reid.models.detectors import load_detector
    from reid.models.detectors.base import crop
    from reid.models.encoders import load_encoder
    from reid.io.images import load_image
    from reid.io.inputs import gather
    from reid.io.video import Sampling, sample_video
    from reid.models.tracks import link_tracks, track_vectors

    report: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        video = Path(tmp) / "episode.mp4"
        report["shots"] = write_episode(video, args.seconds, args.fps, args.width)
        sampling = Sampling(every=args.every)
        detector = load_detector("charfaces_fcos")
        encoder = load_encoder(None)
        report["decode_and_cut_s"], sampled = timed(lambda: sum(1 for _ in sample_video(video, sampling)))
        report["sampled_frames"] = sampled
        report["decode_cut_and_write_s"], (paths, frames) = timed(lambda: gather(video, sampling, Path(tmp) / "f"))
        images = [load_image(p) for p in paths]
        report["detect_s"], boxes = timed(lambda: [detector.detect(im) for im in images])
        crops = [crop(im, b, detector.margin) for im, found in zip(images, boxes) for b in found]
        report["faces"] = len(crops)
        report["embed_s"], vectors = timed(lambda: encoder.embed(crops))
        infos = [frames.of(p) for p, found in zip(paths, boxes) for _ in found]
        flat = [b for found in boxes for b in found]
        report["track_s"], tracks = timed(lambda: link_tracks(infos, flat, vectors))
        report["tracks"] = len(tracks)
        report["cluster_s"], _ = timed(lambda: cluster_vectors(track_vectors(tracks, vectors), umap_dim=0,
                                                               min_cluster_size=2))
        report["end_to_end_s"], found = timed(lambda: cluster_folder(video, encoder, umap_dim=0, min_cluster_size=2,
                                                                      detector=detector, sampling=sampling,
                                                                      frames_dir=Path(tmp) / "e"))
        report["clusters"] = found.clustering.n_clusters
    report["video_seconds"] = args.seconds
    report["video_seconds_per_wall_second"] = args.seconds / report["end_to_end_s"]
    report["sampled_frames_per_second"] = report["sampled_frames"] / report["end_to_end_s"]
    print(f"{args.seconds:g} s of {args.width}px video at {args.fps} fps, a frame every {args.every:g} s\n")
    print_report(report, column="measure", json_path=args.json)


if __name__ == "__main__":
    main()
