"""Training images: decoded once into memory, augmented per epoch, split by character or by image."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from PIL import Image
from torchvision.transforms import v2

from reid.errors import ImageLoadError, ReidError
from reid.io.inputs import labelled_images
from reid.io.images import readable_images
from reid.io.images import require_images
from reid.training.augment import MonochromeViews

# Crops are cached a little larger than the network input so RandomResizedCrop has room to move.
CACHE_MARGIN = 1.15


@dataclass
class TrainingImages:
    paths: list[Path]
    labels: np.ndarray  # int class index per image; -1 when the folder is unlabelled
    classes: list[str]
    images: list[Image.Image] = field(default_factory=list, repr=False)
    failures: list[ImageLoadError] = field(default_factory=list)

    def subset(self, keep: Sequence[int]) -> "TrainingImages":
        keep = list(keep)
        return TrainingImages([self.paths[i] for i in keep], self.labels[keep], self.classes,
                              [self.images[i] for i in keep] if self.images else [], self.failures)

    @property
    def n_classes(self) -> int:
        return len(np.unique(self.labels[self.labels >= 0]))


def _decode(paths: list[Path], cache_size: int, progress) -> tuple[list[int], list[Image.Image], list[ImageLoadError]]:
    """Indices of the readable images, those images shrunk to ``cache_size`` on the short side, the failures."""
    position = {Path(path): i for i, path in enumerate(paths)}
    kept, images, failures = [], [], []
    progress.start(len(paths), "reading images")
    for path, image in readable_images(paths, failures, progress):
        scale = cache_size / min(image.size)
        if scale < 1:
            image = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))),
                                 Image.Resampling.BILINEAR)
        kept.append(position[path])
        images.append(image)
    return kept, images, failures


def read_labelled(dataset_dir: str | Path, input_size: int, progress, exclude: Sequence[str] = ()) -> TrainingImages:
    """One sub-folder per character (but those matching an ``exclude`` pattern); unreadable images are skipped
    and listed in ``failures``."""
    pairs = labelled_images(dataset_dir, exclude)
    classes = sorted({label for label, _ in pairs})
    paths = [path for _, path in pairs]
    labels = np.array([classes.index(label) for label, _ in pairs])
    kept, images, failures = _decode(paths, math.ceil(input_size * CACHE_MARGIN), progress)
    data = TrainingImages([paths[i] for i in kept], labels[kept], classes, images, failures)
    if data.n_classes < 2:
        raise ReidError(f"{dataset_dir}: needs readable images of at least two characters to train on")
    return data


def read_unlabelled(dataset_dir: str | Path, input_size: int, progress) -> TrainingImages:
    """Every image under the folder, labels ignored (DeepCluster makes its own)."""
    paths = require_images(dataset_dir, recursive=True)
    kept, images, failures = _decode(paths, math.ceil(input_size * CACHE_MARGIN), progress)
    if not kept:
        raise ReidError(f"{dataset_dir}: none of its {len(paths)} images could be read")
    return TrainingImages([paths[i] for i in kept], np.full(len(kept), -1), [], images, failures)


def split(data: TrainingImages, fraction: float, seed: int) -> tuple[TrainingImages, TrainingImages | None]:
    """Hold out whole characters when there are five or more (the threshold must work on characters the
    model never saw), else a share of each character's images; (data, None) when too small to split."""
    if fraction <= 0:
        return data, None
    rng = random.Random(seed)
    classes = sorted(set(data.labels.tolist()))
    if len(classes) >= 5:
        held = set(rng.sample(classes, max(2, round(len(classes) * fraction))))
        val = [i for i, label in enumerate(data.labels) if label in held]
    else:  # two images per character at least, or the split has no same-character pair to calibrate on
        val = []
        for label in classes:
            members = [i for i, x in enumerate(data.labels) if x == label]
            if len(members) >= 4:
                val += rng.sample(members, min(len(members) - 2, max(2, round(len(members) * fraction))))
    if len(set(data.labels[val].tolist())) < 2:
        return data, None
    train = sorted(set(range(len(data.paths))) - set(val))
    if len(set(data.labels[train].tolist())) < 2:
        raise ReidError("too few characters left to train on after holding out the validation split; lower --val-fraction")
    return data.subset(train), data.subset(sorted(val))


def held_out(data: TrainingImages, val_dir, fraction: float, input_size: int, seed: int,
             progress) -> tuple[TrainingImages, TrainingImages | None]:
    """(train, validation): a separate labelled folder when given, else a split of the training folder."""
    if val_dir is not None:
        val = read_labelled(val_dir, input_size, progress)
        # a character in both folders would be validated on images it was trained on
        val_paths = {path.resolve() for path in val.paths}
        keep = [i for i, path in enumerate(data.paths) if path.resolve() not in val_paths]
        if len(set(data.labels[keep].tolist())) < 2:
            raise ReidError(f"{val_dir}: leaves fewer than two characters to train on; validate on other characters")
        return data.subset(keep), val
    return split(data, fraction, seed)


def held_out_names(train: TrainingImages, val: TrainingImages | None) -> list[str]:
    """Characters kept out of training entirely (none when the split is by image or by --val-dir)."""
    if val is None or val.classes != train.classes:
        return []
    return [train.classes[c] for c in sorted(set(val.labels.tolist()) - set(train.labels.tolist()))]


def train_transform(size: int, mean: Sequence[float], std: Sequence[float], monochrome: float = 0.0) -> v2.Compose:
    """Mild augmentation: drawings keep their palette (hair and eye colour are identity cues), so hue never moves;
    a ``monochrome`` share of the views is grey or screentoned, as manga pages are."""
    return v2.Compose([
        v2.PILToTensor(),
        v2.RandomResizedCrop(size, scale=(0.75, 1.0), ratio=(0.9, 1.1), antialias=True),
        v2.RandomHorizontalFlip(),
        v2.ColorJitter(brightness=0.15, contrast=0.15, saturation=0.1),
        MonochromeViews(monochrome),
        v2.ToDtype(torch.float32, scale=True),
        v2.Normalize(mean, std),
    ])


def eval_transform(size: int, mean: Sequence[float], std: Sequence[float]) -> v2.Compose:
    """What the encoder does at inference: a plain resize of the whole crop."""
    return v2.Compose([v2.PILToTensor(), v2.Resize((size, size), antialias=True),
                       v2.ToDtype(torch.float32, scale=True), v2.Normalize(mean, std)])


class ImageDataset(torch.utils.data.Dataset):
    def __init__(self, images: Sequence[Image.Image], labels: Sequence[int], transform):
        self.images, self.labels, self.transform = images, list(labels), transform

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        return self.transform(self.images[i]), self.labels[i]
