"""``reid train deepcluster``: self-supervised DeepCluster (Caron et al. 2018). Each epoch: features of
every image -> PCA-whitened k-means (faiss) -> pseudo-labels -> a fresh classifier head -> one epoch of
training on them, sampled uniformly over pseudo-classes. ``--init`` starts from a fine-tuned plugin
directory (the paper's ft+dc)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from sklearn.metrics import normalized_mutual_info_score
from torch import nn

from reid.device import resolve_device
from reid.progress import NoProgress, Progress
from reid.models.encoders.config import read_config
from reid.models.networks.encoder_nets import ClassifierNet, check_layer, layer_names
from reid.models.encoders.trained import load_into
from reid.errors import ReidError
from reid.search.index import kmeans_assign
from reid.training import data as training_data
from reid.training.finetune import feature_dim, head_and_body
from reid.training.run import TrainingResult, TrainingRun, complete, embed_images, run_epochs, seed_everything, train_batches
from reid.training.starting_weights import normalisation


def kmeans_pseudo_labels(vectors: np.ndarray, k: int, *, pca_dim: int = 256, seed: int = 0,
                         iterations: int = 20) -> np.ndarray:
    """DeepCluster's assignment step: PCA-whiten, L2-normalise, k-means; one cluster id per row."""
    n, d = vectors.shape
    return kmeans_assign(_pca_whiten(vectors, min(pca_dim, d, n - 1)), k, seed=seed, iterations=iterations)


def _pca_whiten(x: np.ndarray, dim: int, eps: float = 1e-5) -> np.ndarray:
    """Project on the top ``dim`` principal axes, each scaled to unit variance (eps keeps rank-deficient
    data, fewer images than dimensions, finite)."""
    centred = x.astype(np.float64) - x.mean(axis=0)
    if dim < 1:
        return centred
    values, vectors = np.linalg.eigh(centred.T @ centred / len(x))
    top = np.argsort(values)[::-1][:dim]
    return centred @ vectors[:, top] / np.sqrt(np.maximum(values[top], 0) + eps)


class _Together:
    """The body's optimizer and the per-epoch head optimizer, stepped as one."""

    def __init__(self, *optimizers):
        self.optimizers = optimizers

    def zero_grad(self, set_to_none: bool = True) -> None:
        for optimizer in self.optimizers:
            optimizer.zero_grad(set_to_none=set_to_none)

    def step(self) -> None:
        for optimizer in self.optimizers:
            optimizer.step()

    @property
    def param_groups(self):
        return self.optimizers[0].param_groups


def _start_from(init: str | Path | None, arch: str) -> tuple[ClassifierNet, str, dict]:
    """A classifier to continue from: a fine-tuned plugin directory, or random weights for ``arch``."""
    if init is None:
        return ClassifierNet(arch, 2), "random initialisation", {}
    config = read_config(Path(init) / "config.json")
    if config["architecture"] != "classifier_layer":
        raise ReidError(f"{init}: --init needs a plugin directory from `reid train finetune` or `deepcluster` "
                        f"(architecture classifier_layer), not {config['architecture']}")
    model = load_into(ClassifierNet(config["arch"], int(config["num_classes"])), config["weights"],
                      f"{config['arch']} with {config['num_classes']} classes")
    return model, f"plugin {Path(init).name}", config


def train_deepcluster(dataset_dir: str | Path, out: str | Path, *, name: str | None = None, init: str | Path | None = None,
                      arch: str = "resnet18", layer: str | None = None, k: int = 100, pca_dim: int = 256,
                      epochs: int = 10, batch_size: int = 32, lr: float = 0.01, input_size: int | None = None,
                      val_dir: str | Path | None = None, fuse: Sequence[str] = (), seed: int = 0, resume: bool = False,
                      device: str | None = None,
                      progress: Progress | None = None) -> TrainingResult:
    progress = progress or NoProgress()
    name = name or Path(out).name
    model, source, base = _start_from(init, arch)
    arch = base.get("arch", arch)
    layer = check_layer(arch, layer or base.get("layer"))
    input_size = input_size or base.get("input_size", 128)
    settings = {"command": "deepcluster", "dataset": str(dataset_dir), "name": name,
                "init": None if init is None else str(init), "arch": arch, "layer": layer, "k": k, "pca_dim": pca_dim,
                "epochs": epochs, "batch_size": batch_size, "lr": lr, "input_size": input_size,
                "val_dir": None if val_dir is None else str(val_dir), "fuse": list(fuse), "seed": seed}
    run = TrainingRun(out, settings, resume=resume)
    generator = seed_everything(seed)
    dev = resolve_device(device)
    data = training_data.read_unlabelled(dataset_dir, input_size, progress)
    val = training_data.read_labelled(val_dir, input_size, progress) if val_dir is not None else None
    k = min(k, len(data.paths))
    cluster_layer = layer_names(arch)[-1]  # the paper clusters the layer before the classifier

    model.replace_head(k)
    model.to(dev)
    _, body = head_and_body(model)
    optimizer = torch.optim.SGD(body, lr=lr, momentum=0.9, weight_decay=1e-5)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    start, extra = run.restore(model, optimizer, scheduler)
    previous = np.asarray(extra["assignments"]) if "assignments" in extra else None

    mean, std = base.get("mean", normalisation(arch)[0]), base.get("std", normalisation(arch)[1])
    augment = training_data.train_transform(input_size, mean, std)
    evaluation = training_data.eval_transform(input_size, mean, std)
    criterion = nn.CrossEntropyLoss()
    state = {"assignments": previous}

    def train_epoch(epoch: int) -> dict[str, float]:
        model.eval()
        progress.start(1, f"epoch {epoch}/{epochs}: k-means")
        features = embed_images(lambda x: model.features(x, cluster_layer), data.images, evaluation, dev)
        assignments = kmeans_pseudo_labels(features, k, pca_dim=pca_dim, seed=seed + epoch)
        model.head.reset_parameters()  # the previous epoch's clusters mean nothing now
        head_optimizer = torch.optim.SGD(model.head.parameters(), lr=lr, momentum=0.9, weight_decay=1e-5)
        sizes = np.bincount(assignments, minlength=k)
        weights = torch.as_tensor(1.0 / sizes[assignments], dtype=torch.double)  # uniform over pseudo-classes
        sampler = torch.utils.data.WeightedRandomSampler(weights, len(assignments), generator=generator)
        loader = torch.utils.data.DataLoader(training_data.ImageDataset(data.images, assignments, augment),
                                             batch_size=min(batch_size, len(assignments)), sampler=sampler)

        def step(images, labels):
            return criterion(model(images.to(dev)), labels.to(dev))

        loss = train_batches(model, loader, step, _Together(optimizer, head_optimizer), progress,
                             f"epoch {epoch}/{epochs}", len(loader))
        scheduler.step()
        record = {"loss": loss, "clusters": int((sizes > 0).sum()), "largest_cluster": int(sizes.max())}
        if state["assignments"] is not None:  # stability of the pseudo-labels, the paper's convergence signal
            record["nmi_previous"] = float(normalized_mutual_info_score(state["assignments"], assignments))
        state["assignments"] = assignments
        return record

    run_epochs(run, epochs, start, train_epoch, lambda epoch: run.save_checkpoint(
        epoch, model, optimizer, scheduler, {"assignments": state["assignments"].tolist()}))

    weights = run.write_weights(model.state_dict())
    config = {"name": name, "architecture": "classifier_layer", "arch": arch, "layer": layer, "num_classes": k,
              "weights": weights.name, "embedding_dim": feature_dim(model, layer, input_size), "input_size": input_size,
              "mean": list(mean), "std": list(std),
              "description": f"{arch} trained by DeepCluster (k={k}) on {len(data.paths)} images of "
                             f"{Path(dataset_dir).name}, read at {layer}"}
    pseudo = training_data.TrainingImages(data.paths, state["assignments"], [])
    return complete(run, config, calibration=val if val is not None else pseudo, fuse=fuse,
                    training={**settings, "starting_weights": source, "train_images": len(data.paths)},
                    calibrated_on="labelled --val-dir" if val is not None else "the last k-means pseudo-labels (no labels given)",
                    failures=data.failures, device=device, progress=progress)
