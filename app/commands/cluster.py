from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from reid.app.options import (ClusteringOptions, ContextOptions, DetectorOptions, EncoderOptions, JsonOpt, MergeOpt,
                              ResultDirOpt, SeedOpt, VideoOptions, grouped)
from reid.app.output import console, print_json, progress_bar, report_copies, report_no_face, report_skipped, shorten, table, when
from reid.io.files import check_new_folder, check_outside


@grouped
def cluster(
    image_dir: Annotated[Path, typer.Argument(help="Folder of images (and videos) with an unknown number of characters, sub-folders included; or one video.")],
    clustering: ClusteringOptions = None,
    merge_threshold: MergeOpt = None,
    result_dir: ResultDirOpt = None,
    seed: SeedOpt = 0,
    faces: DetectorOptions = None,
    context: ContextOptions = None,
    model: EncoderOptions = None,
    video: VideoOptions = None,
    json_out: JsonOpt = False,
) -> None:
    """Find the characters in a folder or a video: clusters with their sizes, noise, copies and contact sheets; for videos also when each one is on screen (timeline.png)."""
    from reid.jobs.cluster import cluster_folder, oversized, purity, write_clusters
    from reid.io.inputs import frames_folder
    if result_dir is not None:
        check_new_folder(result_dir)  # before the work, not after it
        check_outside(result_dir, image_dir, "--result-dir", "IMAGE_DIR")
    found_faces = faces.load()
    around = context.load(found_faces)
    encoder = model.load()
    sampling = video.sampling()
    with progress_bar() as progress, frames_folder(result_dir) as (frames_dir, frames_final):
        found = cluster_folder(image_dir, encoder, seed=seed, merge_threshold=merge_threshold, detector=found_faces,
                               context=around, sampling=sampling, frames_dir=frames_dir, frames_final=frames_final,
                               progress=progress, **clustering.options())
        if result_dir is not None:
            write_clusters(found, result_dir, progress=progress)
    report_skipped(found.failures)
    report_no_face(found.no_face, faces.detector)
    report_copies(found.copies)
    if json_out:
        print_json(found.to_json())
        return
    members, composition, timeline = found.members(), found.composition(), found.timeline()
    rows = []
    for name, faces_in in members.items():
        if name in timeline:  # videos: screen time and when, instead of file names
            shown = f"{timeline[name]['screen_time']:.1f} s on screen: " + when(timeline[name]["appearances"])
        else:
            shown = ", ".join(shorten(_relative(found.paths[i], image_dir), 28) for i in faces_in[:3])
            shown += " ..." if len(faces_in) > 3 else ""
        rows.append((name, len(faces_in), purity(composition.get(name)), shown) if composition else (name, len(faces_in), shown))
    title = f"{found.clustering.n_clusters} clusters, {found.clustering.n_noise} noise, {len(found.failures)} skipped"
    columns = ["cluster", "faces" if found_faces is not None else "images", *(["largest folder"] if composition else []), "examples"]
    console.print(table(title, columns, rows))
    total = len(found.paths)
    for name in oversized(members):
        console.print(f"{name} holds {len(members[name])} of {total} ({len(members[name]) / total:.0%}), far more than the "
                      f"others: it may join several characters; look at {name}.png, or split it in reid review", soft_wrap=True)
    if result_dir is not None:
        console.print(f"copies and contact sheets in {result_dir} (originals untouched)")


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:  # a video's frame, or one video given as the input
        return path.name

