"""Enrollment-time adaptation: the encoder's last stages fine-tuned on the user's own references.

Each reference is seen in a few augmented views (the training augmentations, a quarter of them grey or
screentoned) plus the fixed views enrollment embeds (the image, two mild crops, grey, mirrors). The frozen
prefix of the network runs once over all of them; fine-tuning then touches only the tail
(``reid.models.networks.split``) on those cached activations, so a step costs a small fraction of a
forward pass. The loss is a normalised softmax over the enrolled characters (class weights start at each
character's mean embedding, so step 0 is nearest-mean), plus an L2 pull towards the base weights
(L2-SP, Li et al. 2018): with three references a character, the tail must not forget what tells unseen
faces apart.
"""

from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps

from reid.models.encoders.inference import fold_batchnorm
from reid.models.networks.split import DEPTHS, Tail
from reid.progress import NoProgress, Progress

SCALE = 16.0  # softmax temperature of the cosine classifier (NormFace)
PER_CLASS = 4  # views of one character in a batch
CLASSES_PER_BATCH = 32
PREFIX_BATCH = 32


@dataclass(frozen=True)
class AdaptSettings:
    depth: str = "last_block"  # which part of the tail learns (reid.models.networks.split.DEPTHS)
    steps: int = 120
    lr: float = 3e-4
    anchor: float = 1.0  # L2-SP strength: the loss pays anchor * mean squared change of the learning weights x 1e4
    views: int = 4  # augmented views per reference, besides the fixed ones
    mix: float = 1.0  # share of the fine-tuned weights in the ones kept, the rest the base ones (WiSE-FT)
    seed: int = 0

    def __post_init__(self):
        if self.depth not in DEPTHS:
            raise ValueError(f"unknown depth {self.depth!r}; valid: {', '.join(DEPTHS)}")

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class CachedViews:
    """The prefix's activations: ``train`` references x augmented views x C x H x W, ``fixed`` references x fixed
    views x (2 with the mirror averaged in, else 1) x C x H x W; fp16, to halve the memory."""

    train: torch.Tensor
    fixed: torch.Tensor


def fixed_views(image: Image.Image, names: Sequence[str]) -> list[Image.Image]:
    """The views enrollment embeds, by name (``reid.search.head.view_names``)."""
    from reid.search.head import reference_views

    views = reference_views(image, mirror=True)
    by_name = dict(zip(["image", "crop_top_left", "crop_bottom_right", "grey", "mirror"], views))
    return [by_name[n] for n in names]


@torch.no_grad()
def cache_views(prefix: torch.nn.Module, images: Sequence[Image.Image], *, preprocess, input_size: int, mean, std,
                view_names: Sequence[str], mirror: bool, augmented: int, seed: int,
                progress: Progress | None = None) -> CachedViews:
    """Run the frozen prefix over every reference's augmented and fixed views (``mirror``: each fixed view's
    mirror too, for an encoder that averages it in)."""
    from reid.training.data import CACHE_MARGIN, train_transform  # torchvision: only when adapting

    progress = progress or NoProgress()
    prefix = copy.deepcopy(prefix).eval()
    fold_batchnorm(prefix)  # never trained: folding is exact and faster
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    augment = train_transform(input_size, mean, std, monochrome=0.25)
    big = math.ceil(input_size * CACHE_MARGIN)
    progress.start(len(images), "adapting: running the frozen layers over every view")
    pending: list[torch.Tensor] = []
    out: list[torch.Tensor] = []

    def flush() -> None:
        if pending:
            pixels = torch.stack(pending).contiguous(memory_format=torch.channels_last)
            out.append(prefix(pixels).half().contiguous())
            pending.clear()

    try:
        for image in images:
            image = image.convert("RGB")
            scale = big / min(image.size)  # as training caches its images: the short side a little over the input
            resized = image if scale >= 1 else image.resize(
                (max(1, round(image.width * scale)), max(1, round(image.height * scale))), Image.Resampling.BILINEAR)
            pending += [augment(resized) for _ in range(augmented)]
            for view in fixed_views(image, view_names):
                pending.append(preprocess(view))
                if mirror:
                    pending.append(preprocess(ImageOps.mirror(view)))
            if len(pending) >= PREFIX_BATCH:
                flush()
            progress.advance(1)
        flush()
    finally:
        torch.random.set_rng_state(generator_state)
    per_image = augmented + len(view_names) * (2 if mirror else 1)
    features = torch.cat(out).view(len(images), per_image, *out[0].shape[1:])
    fixed = features[:, augmented:].reshape(len(images), len(view_names), 2 if mirror else 1, *out[0].shape[1:])
    return CachedViews(features[:, :augmented].contiguous(), fixed.contiguous())


def _views_for_training(cached: CachedViews) -> torch.Tensor:
    """Every view a reference has (augmented and fixed, mirrors included): references x views x C x H x W."""
    fixed = cached.fixed.flatten(1, 2)
    return torch.cat([cached.train, fixed], dim=1)


@torch.no_grad()
def _frozen_stages(tail: Tail, views: torch.Tensor, first: int, batch: int = 512) -> torch.Tensor:
    """References x views x ...: the activations after the stages that stay as trained, computed once (fp16)."""
    if first == 0:
        return views
    flat = views.flatten(0, 1)
    out = torch.cat([tail.run(flat[i:i + batch].float(), 0, first).half() for i in range(0, len(flat), batch)])
    return out.view(*views.shape[:2], *out.shape[1:])


@torch.no_grad()
def embed_fixed(tail: Tail, cached: CachedViews, rows: np.ndarray | None = None, batch: int = 256) -> np.ndarray:
    """The tail's unit embeddings of the fixed views, mirrors averaged in: references x fixed views x dim."""
    tail.eval()
    fixed = cached.fixed if rows is None else cached.fixed[torch.as_tensor(rows, dtype=torch.long)]
    n, v, m = fixed.shape[:3]
    flat = fixed.flatten(0, 2)
    vectors = torch.cat([F.normalize(tail(flat[i:i + batch].float()), dim=1) for i in range(0, len(flat), batch)])
    vectors = F.normalize(vectors.view(n, v, m, -1).sum(2), dim=2)
    return vectors.numpy()


def fine_tune(tail: Tail, cached: CachedViews, labels: Sequence[str], settings: AdaptSettings,
              rows: np.ndarray | None = None, progress: Progress | None = None) -> Tail:
    """A copy of ``tail`` fine-tuned on the references ``rows`` (all by default); ``tail`` is left as it was."""
    progress = progress or NoProgress()
    tail = copy.deepcopy(tail)
    rows = np.arange(len(labels)) if rows is None else np.asarray(rows)
    names = sorted({labels[r] for r in rows})
    if len(names) < 2 or settings.steps == 0:  # one character: nothing to tell apart
        return tail
    tail.eval()  # batch norm keeps the statistics it was trained with: a few references would say little
    first = tail.first_learning(settings.depth)
    views = _frozen_stages(tail, _views_for_training(cached)[torch.as_tensor(rows, dtype=torch.long)], first)
    target = torch.tensor([names.index(labels[r]) for r in rows])
    learning = [p for stage in tail.stages()[first:] for p in stage.parameters()]
    for p in tail.parameters():
        p.requires_grad_(False)
    for p in learning:
        p.requires_grad_(True)
    start = [p.detach().clone() for p in learning]
    rng = np.random.default_rng(settings.seed)
    with torch.no_grad():
        base = F.normalize(tail.run(views[:, 0].float(), first), dim=1)
        centres = torch.stack([base[target == c].mean(0) for c in range(len(names))])
    centres = torch.nn.Parameter(F.normalize(centres, dim=1))
    optimizer = torch.optim.AdamW([{"params": learning}, {"params": [centres]}], lr=settings.lr, weight_decay=0.0)
    by_class = [np.flatnonzero(target.numpy() == c) for c in range(len(names))]
    per_view = views.shape[1]
    progress.start(settings.steps, "adapting: fine-tuning")
    for _ in range(settings.steps):
        classes = rng.choice(len(names), size=min(CLASSES_PER_BATCH, len(names)), replace=False)
        picks = np.concatenate([rng.choice(by_class[c], size=PER_CLASS) for c in classes])
        which = rng.integers(per_view, size=len(picks))
        batch = views[torch.as_tensor(picks), torch.as_tensor(which)].float()
        embedded = F.normalize(tail.run(batch, first), dim=1)
        logits = SCALE * embedded @ F.normalize(centres, dim=1).T
        loss = F.cross_entropy(logits, target[torch.as_tensor(picks)])
        drift = sum(((p - p0) ** 2).sum() for p, p0 in zip(learning, start)) / sum(p.numel() for p in learning)
        loss = loss + settings.anchor * 1e4 * drift
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        progress.advance(1)
    with torch.no_grad():  # weight-space ensemble with the base weights (Wortsman et al. 2022)
        for p, p0 in zip(learning, start):
            p.mul_(settings.mix).add_(p0, alpha=1.0 - settings.mix)
    for p in tail.parameters():
        p.requires_grad_(False)
    return tail
