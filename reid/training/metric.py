"""``reid train metric``: trunk + linear projection trained with pytorch-metric-learning; the same/different
threshold is the EER point on a held-out split, measured with the written weights."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import torch

from reid.device import resolve_device
from reid.progress import NoProgress, Progress
from reid.models.networks.encoder_nets import MetricNet
from reid.errors import ReidError
from reid.training import data as training_data
from reid.training.run import (BestEpoch, TrainingResult, TrainingRun, complete, embed_images, run_epochs, seed_everything,
                              train_batches, verification_summary)
from reid.training.starting_weights import apply_init, normalisation

LOSSES = ("multi_similarity", "triplet", "arcface", "subcenter_arcface")


def make_loss(name: str, num_classes: int, embedding_dim: int):
    """(loss, miner or None) for a loss name; the loss may own parameters (ArcFace's class centres)."""
    from pytorch_metric_learning import losses, miners

    if name == "multi_similarity":
        return losses.MultiSimilarityLoss(alpha=2, beta=50, base=0.5), miners.MultiSimilarityMiner(epsilon=0.1)
    if name == "triplet":
        return losses.TripletMarginLoss(margin=0.1), miners.TripletMarginMiner(margin=0.2, type_of_triplets="semihard")
    if name == "subcenter_arcface":  # three centres per character: outfits and styles need not share one
        return losses.SubCenterArcFaceLoss(num_classes=num_classes, embedding_size=embedding_dim, margin=28.6, scale=64, sub_centers=3), None
    return losses.ArcFaceLoss(num_classes, embedding_dim, margin=28.6, scale=64), None


def class_balanced_batches(labels, per_class: int, batch_size: int) -> tuple[int, Any]:
    """pytorch-metric-learning's MPerClassSampler, with the batch size made to fit what the data allows."""
    from pytorch_metric_learning.samplers import MPerClassSampler

    n_classes = len(set(labels.tolist()))
    batch = min(batch_size, per_class * n_classes) // per_class * per_class
    if batch < 2 * per_class:
        raise ReidError(f"--batch-size {batch_size} holds fewer than two characters at --per-class {per_class}")
    return batch, MPerClassSampler(labels.tolist(), m=per_class, batch_size=batch, length_before_new_iter=len(labels))


def train_metric(dataset_dir: str | Path, out: str | Path, *, name: str | None = None, arch: str = "resnet18",
                 init: str = "none", loss: str = "multi_similarity", embedding_dim: int = 128, epochs: int = 10,
                 batch_size: int = 32, per_class: int = 4, lr: float = 1e-3, trunk_lr_scale: float | None = None,
                 input_size: int = 128, monochrome: float = 0.25, exclude: Sequence[str] = (),
                 val_fraction: float = 0.2, val_dir: str | Path | None = None, fuse: Sequence[str] = (), seed: int = 0,
                 resume: bool = False, device: str | None = None, progress: Progress | None = None) -> TrainingResult:
    progress = progress or NoProgress()
    name = name or Path(out).name
    settings = {"command": "metric", "dataset": str(dataset_dir), "name": name, "arch": arch, "init": init,
                "loss": loss, "embedding_dim": embedding_dim, "epochs": epochs, "batch_size": batch_size,
                "per_class": per_class, "lr": lr, "trunk_lr_scale": trunk_lr_scale, "input_size": input_size,
                "monochrome": monochrome, "exclude": list(exclude), "val_fraction": val_fraction,
                "val_dir": None if val_dir is None else str(val_dir), "fuse": list(fuse), "seed": seed}
    if loss not in LOSSES:  # before any work
        raise ReidError(f"unknown loss {loss!r}; valid: {', '.join(LOSSES)}")
    run = TrainingRun(out, settings, resume=resume)
    seed_everything(seed)
    dev = resolve_device(device)
    data = training_data.read_labelled(dataset_dir, input_size, progress, exclude)
    train, val = training_data.held_out(data, val_dir, val_fraction, input_size, seed, progress)
    class_balanced_batches(train.labels, per_class, batch_size)  # an impossible batch fails before training

    model = MetricNet(embedding_dim, arch)
    source = apply_init(model.trunk, arch, init)
    model.to(dev)
    loss_fn, miner = make_loss(loss, len(data.classes), embedding_dim)
    loss_fn.to(dev)
    if trunk_lr_scale is None:  # pretrained features are worth more than what a few characters can teach
        trunk_lr_scale = 0.1 if init != "none" else 1.0
    groups = [{"params": model.embedder.parameters(), "lr": lr}]
    if trunk_lr_scale > 0:
        groups.append({"params": model.trunk.parameters(), "lr": lr * trunk_lr_scale})
    else:
        model.trunk.requires_grad_(False)
    if list(loss_fn.parameters()):
        groups.append({"params": loss_fn.parameters(), "lr": lr * 10})
    optimizer = torch.optim.AdamW(groups, weight_decay=1e-4)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    start, extra = run.restore(model, optimizer, scheduler)
    best = BestEpoch(run.out, extra)

    mean, std = normalisation(arch)
    dataset = training_data.ImageDataset(train.images, train.labels, training_data.train_transform(input_size, mean, std, monochrome))
    evaluation = training_data.eval_transform(input_size, mean, std)

    def step(images, labels):
        images, labels = images.to(dev), labels.to(dev)
        embeddings = model(images)
        return loss_fn(embeddings, labels, miner(embeddings, labels)) if miner else loss_fn(embeddings, labels)

    def validate(epoch: int) -> dict[str, float]:
        model.eval()
        summary = verification_summary(embed_images(model, val.images, evaluation, dev), val.labels)
        best.offer(epoch, summary["eer"], model)
        return {f"val_{k}": v for k, v in summary.items()}

    if val is not None and start == 0:
        run.log({"epoch": 0, **validate(0)})

    def train_epoch(epoch: int) -> dict[str, float]:
        # a new sampler each epoch: it shuffles its own label list in place, which a checkpoint would not restore
        batch, sampler = class_balanced_batches(train.labels, per_class, batch_size)
        loader = torch.utils.data.DataLoader(dataset, batch_size=batch, sampler=sampler, drop_last=True)
        record = {"loss": train_batches(model, loader, step, optimizer, progress, f"epoch {epoch}/{epochs}", len(loader),
                                       frozen=model.trunk if trunk_lr_scale == 0 else None),
                  "lr": optimizer.param_groups[0]["lr"]}
        scheduler.step()
        if val is not None:
            record.update(validate(epoch))
        return record

    run_epochs(run, epochs, start, train_epoch,
               lambda epoch: run.save_checkpoint(epoch, model, optimizer, scheduler, best.state()))
    best.load_into(model)

    weights = run.write_weights(model.state_dict())
    config = {"name": name, "architecture": "metric", "arch": arch, "weights": weights.name,
              "embedding_dim": embedding_dim, "input_size": input_size, "mean": list(mean), "std": list(std),
              "description": f"{arch} metric-learned ({loss}) on {train.n_classes} characters of {Path(dataset_dir).name}"}
    training = {**settings, "starting_weights": source, "train_images": len(train.paths),
                "train_characters": train.n_classes, "held_out_characters": training_data.held_out_names(train, val),
                "selected_epoch": best.epoch if best.epoch is not None else epochs}
    return complete(run, config, calibration=val if val is not None else train, training=training, fuse=fuse,
                    calibrated_on="held-out split" if val is not None else "training images (no held-out split)",
                    failures=data.failures, device=device, progress=progress)
