"""Options declared once: single options several commands share, and option groups.

An option group is a dataclass whose fields are Typer options. A command names it as one parameter
(``faces: FaceOptions``); ``@grouped`` shows its fields as that command's options and hands the command one
instance, which builds the library value (a detector, a sampling, an encoder) itself."""

from __future__ import annotations

import dataclasses
import functools
import inspect
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Callable, Optional

import typer

from reid.choices import Mode, NoFace
from reid.models.encoders import DEFAULT_ENCODER, FALLBACK_ENCODER

if TYPE_CHECKING:
    from reid.io.video import Sampling
    from reid.models.context import BodyContext
    from reid.models.detectors.base import Detector
    from reid.models.encoders.base import Encoder

ThresholdOpt = Annotated[Optional[float], typer.Option("--threshold", "-t", min=-1.0, max=1.0, help="Score at or above which two faces are the same character. Default: the encoder's calibrated threshold.")]
DeviceOpt = Annotated[Optional[str], typer.Option("--device", "--gpu", help="cpu, cuda or cuda:N (--gpu N, an older spelling, is cuda:N). Default: $REID_DEVICE, else cuda when present, else cpu.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON to stdout (for scripts) instead of tables.")]
ResultDirOpt = Annotated[Optional[Path], typer.Option("--result-dir", "-o", file_okay=False, help="Folder to COPY images into, one sub-folder per group; originals are never moved.")]
ModeOpt = Annotated[Mode, typer.Option("--mode", "-m", case_sensitive=False, help="Head: a classifier fitted on the references; Any: the best single reference; Avg: the mean of a character's references.")]
KeepOutliersOpt = Annotated[bool, typer.Option("--keep-outliers", help="Keep references far from the rest of their character (by default they are left out and named).")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Random seed (UMAP).")]
MergeOpt = Annotated[Optional[float], typer.Option("--merge-threshold", min=-1.0, max=1.0, help="Merge clusters whose mean embeddings have at least this cosine (start near 0.9). Default: no merging.")]
NoFaceOpt = Annotated[NoFace, typer.Option("--no-face", case_sensitive=False, help="With --detector, an image with no face found is embedded whole, or skipped; both are listed.")]
AdaptOpt = Annotated[bool, typer.Option("--adapt", help="Fine-tune the encoder's last layers on the references (minutes; see docs/classify.md).")]
FollowAdaptOpt = Annotated[Optional[bool], typer.Option("--adapt/--no-adapt", show_default="as the enrollment was made", help="Use (and make, if needed) the encoder adapted to the references, or the base one.")]
ForceOpt = Annotated[bool, typer.Option("--force", help="Replace an existing output file that reid did not write.")]
IndexOpt = Annotated[Optional[Path], typer.Option("--index", help="Where the faiss index goes (its label map beside it). Default: ENROLL.<encoder>.faiss beside the JSON.")]
IvfOpt = Annotated[int, typer.Option("--ivf", min=0, help="An IVF index with this many lists, for large reference sets (0: exact, or the compact index's own choice).")]
CompactOpt = Annotated[Optional[bool], typer.Option("--compact/--exact", show_default="compact from 100,000 references", help="Compact index (256-d, IVF-PQ, re-ranked on 8-bit codes), or every vector as it is.")]


def grouped(command: Callable) -> Callable:
    """Expand each parameter of ``command`` whose type is an option group into the group's own options."""
    hints = typing.get_type_hints(command, include_extras=True)
    parameters, groups = [], {}
    for parameter in inspect.signature(command).parameters.values():
        hint = hints.get(parameter.name, parameter.annotation)
        if not (isinstance(hint, type) and dataclasses.is_dataclass(hint)):
            parameters.append(parameter.replace(annotation=hint))
            continue
        group_hints = typing.get_type_hints(hint, include_extras=True)
        fields = dataclasses.fields(hint)
        groups[parameter.name] = (hint, [f.name for f in fields])
        parameters += [inspect.Parameter(f.name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=f.default,
                                         annotation=group_hints[f.name]) for f in fields]
    names = [p.name for p in parameters]
    repeated = {n for n in names if names.count(n) > 1}
    if repeated:  # a programming error: two groups, or a group and the command, would both own the option
        raise TypeError(f"{command.__name__}: option groups repeat {', '.join(sorted(repeated))}")

    @functools.wraps(command)
    def run(**values: Any):
        for name, (group, fields) in groups.items():
            values[name] = group(**{f: values.pop(f) for f in fields})
        return command(**values)

    run.__signature__ = inspect.Signature(parameters)
    run.__annotations__ = {p.name: p.annotation for p in parameters}
    return run


@dataclass
class EncoderOptions:
    encoder: Annotated[Optional[str], typer.Option("--encoder", "-e", help=f"Encoder name (see `reid plugins`). Default: {DEFAULT_ENCODER}, or {FALLBACK_ENCODER} where the shipped model is absent.")] = None
    device: DeviceOpt = None
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Images per encoder batch.")] = 32

    def load(self) -> Encoder:
        from reid.models.encoders import load_encoder

        return load_encoder(self.encoder, device=self.device, batch_size=self.batch_size)


@dataclass
class DetectorOptions:
    """Faces found first, or each image taken as one face crop."""

    detector: Annotated[Optional[str], typer.Option("--detector", help="Find faces first: charfaces_fcos (shipped), animeface, lbp_cascade, whole, or a plugin's. Default: each image is one face crop.")] = None
    cascade: Annotated[Optional[Path], typer.Option("--cascade", dir_okay=False, help="lbp_cascade's cascade file (e.g. lbpcascade_animeface.xml); also $REID_CASCADE.")] = None
    min_neighbors: Annotated[Optional[int], typer.Option("--min-neighbors", min=0, help="lbp_cascade: overlapping hits a face needs (default 5).")] = None
    min_face: Annotated[Optional[int], typer.Option("--min-face", min=1, help="Smallest face side in pixels (lbp_cascade 24, animeface 43; charfaces_fcos: no limit).")] = None
    margin: Annotated[Optional[float], typer.Option("--margin", min=0.0, help="Share of a face box added on every side before cropping (charfaces_fcos and animeface 0.17, lbp_cascade 0).")] = None

    def options(self) -> dict[str, Any]:
        return {"cascade": self.cascade, "min_neighbors": self.min_neighbors, "min_face": self.min_face,
                "margin": self.margin}

    def load(self) -> Detector | None:
        from reid.models.detectors import optional_detector

        return optional_detector(self.detector, **self.options())


@dataclass
class DetectOptions(DetectorOptions):
    """``reid detect`` always detects, with the shipped detector unless told otherwise."""

    detector: Annotated[str, typer.Option("--detector", help="charfaces_fcos (shipped), animeface, lbp_cascade, whole, or a plugin's.")] = "charfaces_fcos"
    scale_factor: Annotated[Optional[float], typer.Option("--scale-factor", min=1.001, help="lbp_cascade: image pyramid step (default 1.1; smaller finds more, slower).")] = None

    def load(self) -> Detector:
        from reid.models.detectors import load_detector

        return load_detector(self.detector, scale_factor=self.scale_factor, **self.options())


@dataclass
class ContextOptions:
    context: Annotated[Optional[str], typer.Option("--context", help="face (default) or body: also embed the clothing below each face; needs --detector.")] = None
    weights: Annotated[Optional[str], typer.Option("--weights", help="With --context body: FACE,BODY weights of the fused score (default 1.0,1.0).")] = None

    def load(self, detector: Detector | None) -> BodyContext | None:
        from reid.models.context import make_context

        return make_context(self.context, self.weights, detector)


@dataclass
class VideoOptions:
    every: Annotated[Optional[float], typer.Option("--every", min=0.01, help="Videos: a frame every SECONDS (default 1, or none with --scenes alone).")] = None
    scenes: Annotated[bool, typer.Option("--scenes", help="Videos: a frame just after each scene change (PySceneDetect).")] = False
    skip: Annotated[float, typer.Option("--skip", min=0.0, help="Videos: leave out the first SECONDS (an opening).")] = 0.0
    stop: Annotated[Optional[float], typer.Option("--stop", min=0.0, help="Videos: read nothing after SECONDS (an ending).")] = None
    max_width: Annotated[int, typer.Option("--max-width", min=32, help="Videos: frames are downscaled to this width.")] = 1280

    def sampling(self) -> Sampling:
        from reid.io.inputs import sampling_from_options

        return sampling_from_options(self.every, self.scenes, self.skip, self.stop, self.max_width)


@dataclass
class ClusteringOptions:
    method: Annotated[str, typer.Option("--method", help="Clusterer: hdbscan, dbscan, optics, agglomerative, knn_graph (for 100,000 faces and more), or a plugin's.")] = "hdbscan"
    umap_dim: Annotated[int, typer.Option("--umap-dim", min=0, help="Reduce embeddings with UMAP to this many dimensions first (0: no reduction).")] = 32
    min_cluster_size: Annotated[int, typer.Option("--min-cluster-size", "--min-csize", min=1, help="Smaller clusters become noise.")] = 5

    def options(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class IndexOptions:
    """Where enrollment's index goes and of which kind."""

    index: IndexOpt = None
    ivf: IvfOpt = 0
    compact: CompactOpt = None
    keep_outliers: KeepOutliersOpt = False
    force: ForceOpt = False

    def options(self) -> dict[str, Any]:
        return {"index_path": self.index, "ivf_lists": self.ivf, "compact": self.compact,
                "keep_outliers": self.keep_outliers, "force": self.force}
