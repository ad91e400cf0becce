"""Options shared by several commands, declared once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from reid.choices import Mode, NoFace
from reid.encoders import DEFAULT_ENCODER, FALLBACK_ENCODER

EncoderOpt = Annotated[Optional[str], typer.Option("--encoder", "-e", help=f"Encoder name (see `reid plugins`). Default: {DEFAULT_ENCODER}, the shipped model ({FALLBACK_ENCODER} where its plugin directory is absent).")]
ThresholdOpt = Annotated[Optional[float], typer.Option("--threshold", "-t", min=-1.0, max=1.0, help="Score at or above which faces are the same character. Default: the encoder's calibrated threshold (classify: the one calibrated on the enrollment).")]
DeviceOpt = Annotated[Optional[str], typer.Option("--device", "--gpu", help="cpu, cuda or cuda:N; --gpu N (seed 004's spelling) is cuda:N, and a negative N the CPU. Default: $REID_DEVICE, else cuda when present, else cpu.")]
BatchSizeOpt = Annotated[int, typer.Option("--batch-size", min=1, help="Images per encoder batch.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON to stdout (for scripts) instead of tables.")]
ResultDirOpt = Annotated[Optional[Path], typer.Option("--result-dir", "-o", file_okay=False, help="Folder to COPY images into, one sub-folder per group. Originals are never moved.")]
ModeOpt = Annotated[Mode, typer.Option("--mode", "-m", case_sensitive=False, help="Head (default): a classifier fitted on the references (enrollment embeds each in 4 views, so it takes 4 times as long, once). Any: best single reference. Avg: mean over a character's references.")]
KeepOutliersOpt = Annotated[bool, typer.Option("--keep-outliers", help="Keep references far from the rest of their character (by default they are left out and named).")]
MethodOpt = Annotated[str, typer.Option("--method", help="Clusterer: hdbscan, dbscan, optics, agglomerative, knn_graph (100,000 faces and more, with --umap-dim 0), or one a plugin registers.")]
UmapDimOpt = Annotated[int, typer.Option("--umap-dim", min=0, help="Reduce embeddings with UMAP to this many dimensions before clustering (0: no reduction).")]
MinClusterSizeOpt = Annotated[int, typer.Option("--min-cluster-size", "--min-csize", min=1, help="Smaller clusters become noise (after merging).")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Random seed (UMAP).")]
DetectorOpt = Annotated[Optional[str], typer.Option("--detector", help="Find faces first: charfaces_fcos (learned, shipped), animeface, lbp_cascade, whole, or one a plugin registers. Default: each image is one face crop.")]
CascadeOpt = Annotated[Optional[Path], typer.Option("--cascade", dir_okay=False, help="lbp_cascade's cascade file (e.g. lbpcascade_animeface.xml); also $REID_CASCADE.")]
MinNeighborsOpt = Annotated[Optional[int], typer.Option("--min-neighbors", min=0, help="lbp_cascade: overlapping hits a face needs (default 5; lower finds more, and more false faces).")]
MinFaceOpt = Annotated[Optional[int], typer.Option("--min-face", min=1, help="Smallest face side in pixels (lbp_cascade default 24; animeface 43, and a smaller value enlarges the image first).")]
MarginOpt = Annotated[Optional[float], typer.Option("--margin", min=0.0, help="Share of a face box added on every side before cropping; cut targets as your reference crops were cut (defaults: lbp_cascade 0, animeface 0.17, which both cut like the usual lbpcascade crops).")]
MergeOpt = Annotated[Optional[float], typer.Option("--merge-threshold", min=-1.0, max=1.0, help="Merge clusters whose mean embeddings have at least this cosine. Means score far higher than single faces: start near 0.9 (charfaces_lite0 on animeface10 merged nothing at 0.9 and 7 clusters to 5 at 0.85). Default: no merging.")]
ContextOpt = Annotated[Optional[str], typer.Option("--context", help="face (default) or body: also embed the region below each face (clothing) and fuse the two; needs --detector, and enrollment references then go through the detector too.")]
WeightsOpt = Annotated[Optional[str], typer.Option("--weights", help="With --context body: FACE,BODY weights of the fused score (default 1.0,1.0).")]
NoFaceOpt = Annotated[NoFace, typer.Option("--no-face", case_sensitive=False, help="With --detector, an image with no face found: whole embeds the whole image instead (it is still someone), skip leaves it out. Both list it under no_face. Not with --context body.")]
ForceOpt = Annotated[bool, typer.Option("--force", help="Replace an existing output file that reid did not write (its own earlier outputs are replaced without it).")]
EveryOpt = Annotated[Optional[float], typer.Option("--every", min=0.01, help="Videos: a frame every SECONDS (default 1, or none with --scenes alone).")]
ScenesOpt = Annotated[bool, typer.Option("--scenes", help="Videos: a frame just after each scene change (PySceneDetect), with or without --every.")]
SkipOpt = Annotated[float, typer.Option("--skip", min=0.0, help="Videos: leave out the first SECONDS (an opening).")]
StopOpt = Annotated[Optional[float], typer.Option("--stop", min=0.0, help="Videos: read nothing after SECONDS (an ending).")]
MaxWidthOpt = Annotated[int, typer.Option("--max-width", min=32, help="Videos: frames are downscaled to this width.")]
