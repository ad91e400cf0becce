from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from reid.app.commands.enroll import check_inputs
from reid.app.options import (ContextOptions, DetectorOptions, EncoderOptions, FollowAdaptOpt, IndexOptions, JsonOpt,
                              ModeOpt, NoFaceOpt, ResultDirOpt, ThresholdOpt, VideoOptions, grouped)
from reid.app.output import (console, print_json, progress_bar, report_adaptation, report_no_face, report_references,
                             report_skipped, shorten, table, when)
from reid.choices import Mode, NoFace


PATH_WIDTH = 36  # characters of a path shown in --verbose's table: its end, which names the file


def _score(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


@grouped
def classify(
    enrollment: Annotated[Path, typer.Option("--enroll", "--enroll-config-fn", help="Enrollment JSON of reference characters.")],
    target_dir: Annotated[Path, typer.Option("--target-dir", help="Folder of images and videos to sort (sub-folders included), or one video.")],
    mode: ModeOpt = Mode.head,
    result_dir: ResultDirOpt = None,
    threshold: ThresholdOpt = None,
    closed_set: Annotated[bool, typer.Option("--closed-set", help="The folder holds only enrolled characters: every face gets its nearest one, never unknown.")] = False,
    index: IndexOptions = None,
    faces: DetectorOptions = None,
    no_face: NoFaceOpt = NoFace.whole,
    context: ContextOptions = None,
    model: EncoderOptions = None,
    adapt: FollowAdaptOpt = None,
    video: VideoOptions = None,
    json_out: JsonOpt = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="List every face, not only the summary and the unknown ones.")] = False,
) -> None:
    """Say which enrolled character each target image shows ("unknown" under the threshold).

    The default threshold is calibrated on the enrollment: some characters are left out in turn to play strangers. With --detector, each face of an illustration is classified."""
    from reid.jobs.classify import check_closed_set, check_result_dir, classify_paths, copy_into_folders
    from reid.search.adapted_enrollment import check_adaptable, enroll_as_asked
    from reid.search.enrollment import UNKNOWN
    from reid.io.inputs import frames_folder, gather
    check_closed_set(closed_set, threshold)
    if adapt:
        check_adaptable(ivf_lists=index.ivf, compact=index.compact,
                        context=None if context.context in (None, "face") else context.context)
    check_inputs(enrollment, index.index, index.force)
    sampling = video.sampling()
    if result_dir is not None:
        check_result_dir(result_dir, target_dir)  # before the work, not after it
    with progress_bar() as progress, frames_folder(None) as (frames_dir, _):
        # a video's frames are copied into the character folders they go to; the rest go with the temporary folder
        targets, frames = gather(target_dir, sampling, frames_dir, progress=progress)
        found = faces.load()
        around = context.load(found)
        encoder = model.load()
        enrolled, encoder = enroll_as_asked(enrollment, encoder, adapt=adapt, detector=found, context=around,
                                            head=mode == Mode.head, progress=progress, **index.options())
        result = classify_paths(enrolled, encoder, targets, mode=mode, threshold=threshold, detector=found,
                                context=around, root=target_dir, no_face=no_face, frames=frames,
                                frame_step=sampling.every or 0.0, closed_set=closed_set, progress=progress)
        if result_dir is not None:
            copy_into_folders(result, result_dir, progress=progress)
    report_skipped(enrolled.failures + result.failures)
    report_references(enrolled.warnings())
    report_no_face(result.no_face, faces.detector, whole=result.no_face_policy == NoFace.whole.value)
    if json_out:
        print_json({**result.to_json(), "index": str(enrolled.index_path), "index_reused": enrolled.reused,
                    **enrolled.to_json()})
        return
    unit = "faces" if found is not None else "images"
    summary = list(result.counts().items()) + [("(images skipped: unreadable)", len(result.failures))]
    if found is not None:
        summary.append((f"(images with no face found; --no-face {result.no_face_policy})", len(result.no_face)))
    rule = "closed set, every face named" if closed_set else f"threshold {result.threshold:.3f} ({result.threshold_source})"
    console.print(table(f"{len(result.matches)} {unit}: {result.mode} mode, {rule}", ["character", unit], summary))
    if result.calibration and result.calibration["threshold"] is not None and not closed_set:
        c = result.calibration
        console.print(f"calibration, leaving enrolled characters out in turn: at {c['threshold']:.3f} "
                      f"{c['strangers_rejected']:.0%} of {c['strangers']} stranger faces are unknown and "
                      f"{c['known_kept']:.0%} of {c['known']} held-back references keep a name (AUROC {c['auroc']:.3f})")
    report_adaptation(enrolled.adaptation)
    unknown = sum(m.character == UNKNOWN for m in result.matches)
    if verbose:
        rows = [(shorten(m.relative_path, PATH_WIDTH) + (f" {m.box}" if m.box else " (whole)" if m.whole_image else ""),
                 m.character, _score(m.score), m.nearest, m.runner_up or "", _score(m.runner_up_score))
                for m in result.matches]
        console.print(table("every face", ["image", "character", "score", "nearest", "runner-up", "score"], rows))
    elif unknown:
        hint = "; if the folder holds only enrolled characters, --closed-set names every face" if not closed_set else ""
        console.print(f"{unknown} {unit} scored under the threshold and are unknown (--verbose lists every face with its "
                      f"nearest character, --json everything){hint}")
    timeline = result.timeline()
    if timeline:
        console.print(table("in the videos", ["character", "seconds on screen", "when"],
                            [(name, f"{t['screen_time']:.1f}", when(t["appearances"])) for name, t in timeline.items()]))
    if result_dir is not None:
        console.print(f"copies in {result_dir}/<character>/ (originals untouched; a file already there with the "
                      "same content is not copied again)")
