"""``reid train finetune``: classification fine-tuning of VGG16 / ResNet on the training characters; the
encoder then reads one inner layer (``--layer``) as the feature, so that layers can be compared."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import nn

from reid.device import resolve_device
from reid.progress import NoProgress, Progress
from reid.models.networks.encoder_nets import ClassifierNet, check_layer
from reid.training import data as training_data
from reid.training.run import (TrainingResult, TrainingRun, complete, embed_images, run_epochs, seed_everything,
                               train_batches, verification_summary)
from reid.training.starting_weights import apply_init, normalisation


def feature_dim(model: ClassifierNet, layer: str, input_size: int) -> int:
    model.eval()
    with torch.no_grad():
        return int(model.features(torch.zeros(1, 3, input_size, input_size, device=next(model.parameters()).device), layer).shape[1])


def head_and_body(model: ClassifierNet) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
    head = {id(p) for p in model.head.parameters()}
    return list(model.head.parameters()), [p for p in model.parameters() if id(p) not in head]


def train_finetune(dataset_dir: str | Path, out: str | Path, *, name: str | None = None, arch: str = "vgg16",
                   layer: str | None = None, init: str = "none", epochs: int = 10, batch_size: int = 32,
                   lr: float = 0.01, input_size: int = 128, val_fraction: float = 0.2, val_dir: str | Path | None = None,
                   fuse: Sequence[str] = (), seed: int = 0, resume: bool = False, device: str | None = None,
                   progress: Progress | None = None) -> TrainingResult:
    progress = progress or NoProgress()
    name = name or Path(out).name
    layer = check_layer(arch, layer)
    settings = {"command": "finetune", "dataset": str(dataset_dir), "name": name, "arch": arch, "layer": layer,
                "init": init, "epochs": epochs, "batch_size": batch_size, "lr": lr, "input_size": input_size,
                "val_fraction": val_fraction, "val_dir": None if val_dir is None else str(val_dir), "fuse": list(fuse), "seed": seed}
    run = TrainingRun(out, settings, resume=resume)
    generator = seed_everything(seed)
    dev = resolve_device(device)
    data = training_data.read_labelled(dataset_dir, input_size, progress)
    train, val = training_data.held_out(data, val_dir, val_fraction, input_size, seed, progress)
    classes = sorted(set(train.labels.tolist()))  # held-out characters leave gaps: renumber 0..C-1
    targets = np.searchsorted(classes, train.labels)

    model = ClassifierNet(arch, len(classes))
    source = apply_init(model.net, arch, init)
    model.to(dev)
    head, body = head_and_body(model)
    optimizer = torch.optim.SGD([{"params": body, "lr": lr * (0.1 if init != "none" else 1.0)},
                                 {"params": head, "lr": lr}], momentum=0.9, weight_decay=5e-4)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    start, _ = run.restore(model, optimizer, scheduler)

    mean, std = normalisation(arch)
    dataset = training_data.ImageDataset(train.images, targets, training_data.train_transform(input_size, mean, std))
    evaluation = training_data.eval_transform(input_size, mean, std)
    criterion = nn.CrossEntropyLoss()

    def step(images, labels):
        return criterion(model(images.to(dev)), labels.to(dev))

    def train_epoch(epoch: int) -> dict[str, float]:
        loader = torch.utils.data.DataLoader(dataset, batch_size=min(batch_size, len(dataset)), shuffle=True,
                                             drop_last=len(dataset) > batch_size, generator=generator)
        record = {"loss": train_batches(model, loader, step, optimizer, progress, f"epoch {epoch}/{epochs}", len(loader)),
                  "lr": optimizer.param_groups[-1]["lr"]}
        scheduler.step()
        if val is not None:
            model.eval()
            summary = verification_summary(embed_images(lambda x: model.features(x, layer), val.images, evaluation, dev), val.labels)
            record.update({f"val_{k}": v for k, v in summary.items()})
        return record

    run_epochs(run, epochs, start, train_epoch, lambda epoch: run.save_checkpoint(epoch, model, optimizer, scheduler))

    weights = run.write_weights(model.state_dict())
    config = {"name": name, "architecture": "classifier_layer", "arch": arch, "layer": layer, "num_classes": len(classes),
              "weights": weights.name, "embedding_dim": feature_dim(model, layer, input_size), "input_size": input_size,
              "mean": list(mean), "std": list(std),
              "description": f"{arch} fine-tuned to classify {len(classes)} characters of {Path(dataset_dir).name}, read at {layer}"}
    training = {**settings, "starting_weights": source, "train_images": len(train.paths),
                "train_characters": len(classes), "held_out_characters": training_data.held_out_names(train, val)}
    return complete(run, config, calibration=val if val is not None else train, training=training, fuse=fuse,
                    calibrated_on="held-out split" if val is not None else "training images (no held-out split)",
                    failures=data.failures, device=device, progress=progress)
