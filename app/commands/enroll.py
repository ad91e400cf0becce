from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from reid.app.options import AdaptOpt, EncoderOptions, IndexOptions, JsonOpt, grouped
from reid.app.output import console, print_json, progress_bar, report_adaptation, report_references, report_skipped, table
from reid.errors import ReidError

EnrollArg = Annotated[Path, typer.Argument(help='Enrollment JSON: {"Character": "folder of reference images"}; relative folders resolve against the JSON\'s folder.')]


def check_inputs(enrollment: Path, index: Path | None, force: bool) -> None:
    """A typo in the JSON, or an --index that would replace someone's file, is reported now, not after the model loads."""
    from reid.search.enrollment import read_enrollment, reference_files
    from reid.search.enrollment_files import head_path_for
    from reid.search.index import check_index_output
    reference_files(read_enrollment(enrollment))
    if index is not None:
        check_index_output(index, head_path_for(index), force=force)


@grouped
def enroll(
    enrollment: EnrollArg,
    index: IndexOptions = None,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Re-embed even if the saved index matches.")] = False,
    head: Annotated[bool, typer.Option("--head", help="Also fit the classifier head that `classify --mode Head` uses.")] = False,
    adapt: AdaptOpt = False,
    ray: Annotated[Optional[str], typer.Option("--ray", metavar="ADDRESS", help="Embed on a Ray cluster ('auto': the one this machine joined, 'local': start one here); needs reid\\[ray].")] = None,
    workers: Annotated[int, typer.Option("--workers", min=1, help="With --ray: embedding actors (one GPU each where the cluster has GPUs).")] = 2,
    model: EncoderOptions = None,
    json_out: JsonOpt = False,
) -> None:
    """Embed the reference images of an enrollment JSON into a faiss index, and calibrate "unknown" on them.

    Embeddings are cached beside the index, so adding or removing references embeds only the files that changed."""
    from reid.search.adapted_enrollment import check_adaptable, enroll_as_asked
    if ray is not None and (head or adapt or index.ivf or index.compact is False):
        raise ReidError("--ray builds a compact index without a head; leave out --head, --adapt, --ivf and --exact")
    if adapt:
        check_adaptable(ivf_lists=index.ivf, compact=index.compact)
    check_inputs(enrollment, index.index, index.force)
    encoder = model.load()
    if ray is not None:
        _enroll_on_ray(enrollment, encoder, index.index, ray, workers, index.force, json_out)
        return
    with progress_bar() as progress:
        enrolled, encoder = enroll_as_asked(enrollment, encoder, adapt=adapt, rebuild=rebuild, head=head, progress=progress,
                                            **index.options())
    report_skipped(enrolled.failures)
    report_references(enrolled.warnings())
    counts = enrolled.index.counts()
    calibration = {mode.value: c.to_json() for mode, c in enrolled.calibration.items() if c is not None}
    if json_out:
        print_json({"index": str(enrolled.index_path), "reused": enrolled.reused, "encoder": encoder.name,
                    "references": dict(sorted(counts.items())), "skipped": len(enrolled.failures),
                    **enrolled.to_json(), "calibration": calibration})
        return
    console.print(table(None, ["character", "references"], sorted(counts.items())))
    rows = [(mode, "" if c["threshold"] is None else f"{c['threshold']:.3f}", f"{c['strangers_rejected']:.0%}",
             f"{c['known_kept']:.0%}", f"{c['auroc']:.3f}", c["reason"]) for mode, c in calibration.items()]
    console.print(table("unknown threshold per mode, calibrated by leaving characters out",
                        ["mode", "threshold", "strangers unknown", "references kept", "AUROC", "note"], rows))
    state = ("reused (encoder and files unchanged)" if enrolled.reused else
             f"written ({enrolled.index.kind.value}; {enrolled.embedded} files embedded, the others from the cache)")
    console.print(f"index {enrolled.index_path} {state}: {enrolled.index.size} references, {len(counts)} characters, "
                  f"{len(enrolled.failures)} skipped, {len(enrolled.dropped)} left out as outliers")
    if enrolled.head_path:
        console.print(f"classifier head {enrolled.head_path}")
    report_adaptation(enrolled.adaptation)


def _enroll_on_ray(enrollment: Path, model, index: Path | None, address: str, workers: int, force: bool,
                   json_out: bool) -> None:
    from reid.search.enrollment_files import shards_path_for
    from reid.search.ray_enrollment import enroll_on_ray

    built, path, failures = enroll_on_ray(enrollment, model, index_path=index, address=None if address == "local" else address,
                                          workers=workers, force=force)
    report_skipped(failures)
    if json_out:
        print_json({"index": str(path), "encoder": model.name, "references": built.counts(), "skipped": len(failures),
                    "calibration": built.meta["open_set"], "shards": str(shards_path_for(path))})
        return
    console.print(f"index {path} written on Ray ({built.kind.value}): {built.size} references, "
                  f"{len(built.characters)} characters, {len(failures)} skipped; `reid classify --keep-outliers --compact` uses it")
