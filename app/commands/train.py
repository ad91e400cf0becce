"""``reid train metric|finetune|deepcluster|detector``: each writes a plugin directory that ``--plugin-dir`` loads."""

from __future__ import annotations

from pathlib import Path
import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from reid.app.options import DeviceOpt, JsonOpt, grouped
from reid.app.output import console, print_json, progress_bar, report_skipped, table
from reid.choices import INIT_HELP

if TYPE_CHECKING:
    from reid.training.run import TrainingResult

app = typer.Typer(no_args_is_help=True, help="Train an encoder or a face detector; the result is a plugin directory (see plugins/README.md).")

DatasetArg = Annotated[Path, typer.Argument(help="Labelled folder: one sub-folder of images per character.")]
OutOpt = Annotated[Path, typer.Option("--out", "-o", file_okay=False, help="Plugin directory to write (new or empty, unless --resume).")]
NameOpt = Annotated[Optional[str], typer.Option("--name", help="Encoder name to register. Default: the --out folder's name.")]
EpochsOpt = Annotated[int, typer.Option("--epochs", min=1, help="Passes over the training images.")]
TrainBatchOpt = Annotated[int, typer.Option("--batch-size", min=2, help="Images per training step.")]
LrOpt = Annotated[float, typer.Option("--lr", min=0.0, help="Learning rate of the new layers (pretrained layers get a tenth).")]
EmbeddingDimHelp = "Width of the linear projection; equal to the trunk's width (1280 for efficientnet_lite0/1/2, 512 for resnet18) it starts as the identity."
InputSizeOpt = Annotated[int, typer.Option("--input-size", min=16, help="Side in pixels the network sees.")]
InitOpt = Annotated[str, typer.Option("--init", help=f"Starting weights: {INIT_HELP}.")]
ValFractionOpt = Annotated[float, typer.Option("--val-fraction", min=0.0, max=0.9, help="Held out to calibrate the threshold: whole characters when there are 5 or more, else images.")]
ValDirOpt = Annotated[Optional[Path], typer.Option("--val-dir", help="A separate labelled folder to calibrate the threshold on (instead of --val-fraction); a glob as its last part picks character folders, e.g. 'charfaces/starrail__*', and those are left out of training.")]
TrainSeedOpt = Annotated[int, typer.Option("--seed", help="Random seed (initialisation, sampling, augmentation, split).")]
FuseOpt = Annotated[Optional[list[str]], typer.Option("--fuse", help="Concatenate another encoder's embedding, NAME or NAME:WEIGHT (repeatable), e.g. color_texture; the threshold is calibrated on the fused score.")]
ResumeOpt = Annotated[bool, typer.Option("--resume", help="Continue the interrupted run in --out from its last checkpoint.")]
ExcludeOpt = Annotated[Optional[list[str]], typer.Option("--exclude", help="Character folders to leave out, a glob pattern (repeatable), e.g. 'touhou__*' to hold out a franchise.")]


@dataclass
class RunOptions:
    """How a training run is seeded, resumed and placed; every training command has these."""

    seed: TrainSeedOpt = 0
    resume: ResumeOpt = False
    device: DeviceOpt = None

    def options(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class EpochOptions(RunOptions):
    epochs: EpochsOpt = 10
    batch_size: TrainBatchOpt = 32


@dataclass
class SplitOptions:
    """What the threshold is calibrated on: a held-out share of the characters, or a folder of its own."""

    val_fraction: ValFractionOpt = 0.2
    val_dir: ValDirOpt = None

    def options(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class MetricNetworkOptions:
    arch: Annotated[str, typer.Option("--arch", help="Trunk: efficientnet_lite0, efficientnet_lite1, efficientnet_lite2, resnet18, resnet34, resnet50, resnet101.")] = "resnet18"
    init: InitOpt = "none"
    loss: Annotated[str, typer.Option("--loss", help="multi_similarity (with its miner), triplet (semi-hard miner), arcface or subcenter_arcface (3 centres per character).")] = "multi_similarity"
    embedding_dim: Annotated[int, typer.Option("--embedding-dim", min=2, help=EmbeddingDimHelp)] = 128
    trunk_lr_scale: Annotated[Optional[float], typer.Option("--trunk-lr-scale", min=0.0, help="Trunk learning rate as a share of --lr (0 freezes it). Default: 0.1 with pretrained --init, else 1.")] = None

    def options(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class PageOptions:
    """The generated pages a detector learns from."""

    page_size: Annotated[int, typer.Option("--page-size", min=64, help="Side of the generated training pages in pixels.")] = 384
    boxes_from: Annotated[str, typer.Option("--boxes-from", help="Detector that finds the face inside each crop and in the --artworks ('none': the typical place in a crop).")] = "animeface"
    artworks: Annotated[Optional[Path], typer.Option("--artworks", file_okay=False, help="Whole illustrations (searched recursively) to cut pages from, with the faces --boxes-from finds.")] = None
    artwork_share: Annotated[float, typer.Option("--artwork-share", min=0.0, max=1.0, help="Share of the training pages cut from --artworks.")] = 0.25

    def options(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "boxes_from": None if self.boxes_from == "none" else self.boxes_from}


def _report(result: TrainingResult, json_out: bool) -> None:
    report_skipped(result.failures)
    if json_out:
        print_json({"out": str(result.out), "config": result.config, "history": result.history})
        return
    last = result.history[-1] if result.history else {}
    training = result.config.get("training", {})
    rows = [("plugin directory", result.out), ("encoder", result.config["name"]),
            ("threshold", f"{result.config['threshold']:.3f} ({training.get('calibrated_on', '')})"),
            *[(f"calibration {k}", f"{v:.3f}") for k, v in training.get("calibration", {}).items() if k != "threshold"],
            ("epochs", len(result.history)), ("last loss", f"{last.get('loss', float('nan')):.4f}"),
            ("log / curve", f"{result.out / 'train_log.jsonl'}, {result.out / 'loss.png'}")]
    console.print(table(f"trained {result.config['name']}", ["", ""], rows))
    console.print(f"use it: reid --plugin-dir {result.out} similarity A B --encoder {result.config['name']}")


@app.command()
@grouped
def metric(
    dataset_dir: DatasetArg,
    out: OutOpt,
    name: NameOpt = None,
    network: MetricNetworkOptions = None,
    per_class: Annotated[int, typer.Option("--per-class", min=2, help="Images of each character in a batch.")] = 4,
    lr: LrOpt = 1e-3,
    input_size: InputSizeOpt = 128,
    monochrome: Annotated[float, typer.Option("--monochrome", min=0.0, max=1.0, help="Share of training views made grey, half of them screentoned, so identity survives without colour.")] = 0.25,
    exclude: ExcludeOpt = None,
    split: SplitOptions = None,
    fuse: FuseOpt = None,
    run: EpochOptions = None,
    json_out: JsonOpt = False,
) -> None:
    """Metric learning (pytorch-metric-learning): trunk + linear projection, threshold calibrated on held-out data.

    With a validation split, the epoch with the lowest held-out EER is kept (epoch 0: the starting weights)."""
    from reid.training.metric import train_metric

    with progress_bar() as progress:
        result = train_metric(dataset_dir, out, name=name, per_class=per_class, lr=lr, input_size=input_size,
                              monochrome=monochrome, exclude=exclude or [], fuse=fuse or [], progress=progress,
                              **network.options(), **split.options(), **run.options())
    _report(result, json_out)


@app.command()
@grouped
def finetune(
    dataset_dir: DatasetArg,
    out: OutOpt,
    arch: Annotated[str, typer.Option("--arch", help="vgg16, resnet18, resnet50 or resnet101.")] = "vgg16",
    layer: Annotated[Optional[str], typer.Option("--layer", help="Feature layer: conv1..conv5, and fc1/fc2 for vgg16. Default: the last (fc2 / conv5).")] = None,
    name: NameOpt = None,
    init: InitOpt = "none",
    lr: LrOpt = 0.01,
    input_size: InputSizeOpt = 128,
    split: SplitOptions = None,
    fuse: FuseOpt = None,
    run: EpochOptions = None,
    json_out: JsonOpt = False,
) -> None:
    """Classification fine-tuning; the encoder reads one inner layer as the feature."""
    from reid.training.finetune import train_finetune

    with progress_bar() as progress:
        result = train_finetune(dataset_dir, out, name=name, arch=arch, layer=layer, init=init, lr=lr, input_size=input_size,
                                fuse=fuse or [], progress=progress, **split.options(), **run.options())
    _report(result, json_out)


@app.command()
@grouped
def deepcluster(
    dataset_dir: Annotated[Path, typer.Argument(help="Folder of images, searched recursively; labels are not used.")],
    out: OutOpt,
    k: Annotated[int, typer.Option("--k", min=2, help="k-means clusters (pseudo-classes) per epoch; more than the characters you expect.")] = 100,
    init: Annotated[Optional[Path], typer.Option("--init", file_okay=False, help="Plugin directory of a fine-tuned model to start from (ft+dc). Default: random weights.")] = None,
    arch: Annotated[str, typer.Option("--arch", help="Architecture when there is no --init: vgg16, resnet18, resnet50, resnet101.")] = "resnet18",
    layer: Annotated[Optional[str], typer.Option("--layer", help="Feature layer the encoder reads. Default: --init's, else the last.")] = None,
    pca_dim: Annotated[int, typer.Option("--pca-dim", min=0, help="PCA-whitening width before k-means (0: none).")] = 256,
    name: NameOpt = None,
    lr: LrOpt = 0.01,
    input_size: Annotated[Optional[int], typer.Option("--input-size", min=16, help="Side in pixels the network sees. Default: --init's, else 128.")] = None,
    val_dir: Annotated[Optional[Path], typer.Option("--val-dir", help="Labelled folder to calibrate the threshold on. Default: the last pseudo-labels.")] = None,
    fuse: FuseOpt = None,
    run: EpochOptions = None,
    json_out: JsonOpt = False,
) -> None:
    """Self-supervised DeepCluster: k-means pseudo-labels (faiss) and a fresh classifier head every epoch."""
    from reid.training.deepcluster import train_deepcluster

    with progress_bar() as progress:
        result = train_deepcluster(dataset_dir, out, name=name, init=init, arch=arch, layer=layer, k=k, pca_dim=pca_dim,
                                   lr=lr, input_size=input_size, val_dir=val_dir, fuse=fuse or [], progress=progress,
                                   **run.options())
    _report(result, json_out)


@app.command()
@grouped
def detector(
    faces_dir: Annotated[Path, typer.Argument(help="Face crops, one sub-folder per character (e.g. charfaces), pasted onto generated pages.")],
    out: OutOpt,
    name: Annotated[Optional[str], typer.Option("--name", help="Detector name to register. Default: the --out folder's name.")] = None,
    steps: Annotated[int, typer.Option("--steps", min=1, help="Training steps (about 1.3 s each at the defaults on 2 CPU cores).")] = 2400,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Pages per training step.")] = 8,
    lr: Annotated[float, typer.Option("--lr", min=0.0, help="Peak learning rate (AdamW, warm-up then cosine decay; the stem and first blocks stay frozen).")] = 2e-3,
    pages: PageOptions = None,
    input_size: Annotated[int, typer.Option("--input-size", min=64, help="Longer side in pixels an image is scaled to before it is searched.")] = 640,
    exclude: Annotated[Optional[list[str]], typer.Option("--exclude", help="Character folders to leave out, a glob pattern (repeatable), e.g. 'onepiece__*'.")] = None,
    val_fraction: Annotated[float, typer.Option("--val-fraction", min=0.01, max=0.9, help="Characters kept out to set the score threshold on.")] = 0.1,
    init: Annotated[str, typer.Option("--init", help="'imagenet' (the reid[train] extra ships the weights), 'none', or a detector plugin directory to fine-tune.")] = "imagenet",
    run: RunOptions = None,
    json_out: JsonOpt = False,
) -> None:
    """A face detector (FCOS over EfficientNet-Lite0) trained on pages of pasted face crops; its score threshold is where 99 % of its detections are faces, on pages of characters it never saw."""
    from reid.training.detector import train_detector

    with progress_bar() as progress:
        result = train_detector(faces_dir, out, name=name, steps=steps, batch_size=batch_size, lr=lr, input_size=input_size,
                                exclude=exclude or [], val_fraction=val_fraction, init=init, progress=progress,
                                **pages.options(), **run.options())
    report_skipped(result.failures)
    if json_out:
        print_json({"out": str(result.out), "config": result.config, "history": result.history})
        return
    calibration = result.config["training"]["calibration"]
    rows = [("plugin directory", result.out), ("detector", result.config["name"]),
            ("score threshold", f"{result.config['score_threshold']:.3f}"),
            ("validation pages", f"recall {calibration['recall']:.3f}, precision {calibration['precision']:.3f} "
                                 f"({calibration['faces']} faces on {calibration['pages']} pages)"),
            ("log / curve", f"{result.out / 'train_log.jsonl'}, {result.out / 'loss.png'}")]
    console.print(table(f"trained {result.config['name']}", ["", ""], rows))
    console.print(f"use it: reid --plugin-dir {result.out} detect DIR --detector {result.config['name']}")
