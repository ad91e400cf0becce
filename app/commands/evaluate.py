from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from reid.app.options import (ClusteringOptions, ContextOptions, DetectorOptions, EncoderOptions, ForceOpt, JsonOpt, MergeOpt,
                              ThresholdOpt, grouped)
from reid.app.output import console, print_json, progress_bar, report_copies, report_no_face, report_skipped, table, warn
from reid.errors import ReidError
from reid.io.files import check_replaceable


@grouped
def evaluate(
    dataset_dir: Annotated[Path, typer.Argument(help="Labelled folder: one sub-folder of images per character.")],
    runs: Annotated[int, typer.Option("--runs", min=1, help="Clustering runs (UMAP seeds) to average.")] = 10,
    per_title: Annotated[bool, typer.Option("--per-title", help="DATASET_DIR holds one folder per title (manga), each with its character folders: each title is evaluated on its own, then the mean over titles.")] = False,
    gray: Annotated[bool, typer.Option("--gray", help="Turn every image grey first: how the encoder does on manga, measured on a colour set.")] = False,
    report: Annotated[Optional[Path], typer.Option("--report", dir_okay=False, help="Also write an HTML report: metrics, per-character recall, worst-confused pairs with thumbnails, score histogram.")] = None,
    force: ForceOpt = False,
    clustering: ClusteringOptions = None,
    merge_threshold: MergeOpt = None,
    threshold: ThresholdOpt = None,
    faces: DetectorOptions = None,
    context: ContextOptions = None,
    model: EncoderOptions = None,
    json_out: JsonOpt = False,
) -> None:
    """Measure an encoder: leave-one-out top-1, EER, F1 at the threshold, clustering AMI/NMI/ARI. With --detector, every face found in a character's illustrations counts as that character."""
    from reid.jobs.evaluate import evaluate as run_evaluation
    from reid.jobs.evaluate_report import is_reid_report, write_report
    if report is not None and per_title:
        raise ReidError("--report describes one data set; leave it out with --per-title, or evaluate one title folder")
    if report is not None:
        check_replaceable(report, ours=is_reid_report, force=force, option="--report")
    found = faces.load()
    around = context.load(found)
    encoder = model.load()
    options = dict(runs=runs, merge_threshold=merge_threshold, threshold=threshold, detector=found, context=around,
                   grayscale=gray, **clustering.options())
    if per_title:
        _per_title(dataset_dir, encoder, json_out, **options)
        return
    with progress_bar() as progress:
        result = run_evaluation(dataset_dir, encoder, progress=progress, **options)
    report_skipped(result.failures)
    report_no_face(result.no_face, faces.detector)
    report_copies(result.copies)
    if report is not None:
        write_report(result, report)
    if json_out:
        print_json({**result.to_json(), **({"report": str(report)} if report is not None else {})})
        return
    unit = "faces" if found is not None else "images"
    title = (f"{result.encoder} on {dataset_dir}{' (grey)' if gray else ''}: {result.n_images} {unit}, "
             f"{result.n_characters} characters, "
             f"{len(result.failures)} skipped")
    console.print(table(title, ["metric", "value"], result.summary_rows()))
    if report is not None:
        console.print(f"report: {report}")


def _per_title(dataset_dir: Path, model, json_out: bool, **options) -> None:
    from reid.jobs.evaluate import evaluate_titles, mean_over_titles, title_metrics

    with progress_bar() as progress:
        results, left_out = evaluate_titles(dataset_dir, model, progress=progress, **options)
    for title, reason in left_out.items():
        warn(f"title {title} left out: {reason}")
    for result in results.values():
        report_skipped(result.failures)
    mean = mean_over_titles(results)
    if json_out:
        print_json({"encoder": model.name, "titles": {t: r.to_json() for t, r in results.items()},
                    "per_title": {t: title_metrics(r) for t, r in results.items()}, "mean": mean,
                    "left_out": left_out})
        return
    columns = ["top-1", "EER", "best F1", "AMI", "NMI", "ARI"]
    def shown(value: float | None) -> str:
        return "-" if value is None else f"{value:.3f}"  # a title whose characters have one face each

    rows = [(t, r.n_images, r.n_characters, *map(shown, title_metrics(r).values()))
            for t, r in results.items()]
    rows.append((f"mean of {len(results)}", sum(r.n_images for r in results.values()), "",
                 *map(shown, mean.values())))
    console.print(table(f"{model.name} on {dataset_dir}, per title{' (grey)' if options.get('grayscale') else ''}",
                        ["title", "faces", "characters", *columns], rows))
