"""Classify modes on labelled folders: closed-set accuracy with k references per character, and open set.

    .venv/bin/python benchmarks/classify_table.py --set af10=../shared/data/animeface10_faces \
        --set 'starrail=../shared/data/charfaces/starrail__*' [--k 1 3 5 10 20] [--open-k 10] \
        [--repeats 5] [--encoder NAME] [--plugin-dir DIR] [--gray] [--json out.json]

Closed set: per character k random references (as `reid enroll` keeps them: outliers left out), the
rest are targets; the share named right in Any, Avg and Head mode. Characters with k or fewer images
sit that k out. Open set: a third of the characters are never enrolled (strangers), the others enroll
--open-k references; per mode the AUROC of enrolled against stranger faces, and at the threshold the
enrollment calibrates itself (and, for comparison, at the encoder's threshold) the share of strangers
called unknown and of enrolled faces named right. Every image is embedded once, in the views the
head trains on. --gray turns every image grey first (manga, on a colour set). Without --set a drawn set of
made-up characters is used.
"""

from __future__ import annotations

import argparse
import tempfile
from functools import partial
from pathlib import Path

import numpy as np
from model_table import sets_or_drawn
from sklearn.metrics import roc_auc_score

from reid import plugins
from reid.jobs.classify import default_threshold
from reid.models.embedding import embed_paths
from reid.models.encoders import load_encoder
from reid.search.enrollment import fit_references
from reid.io.inputs import labelled_images
from reid.io.files import write_json_atomic
from reid.search.head import reference_views
from reid.search.ranking import Mode, rank_characters

MODES = (Mode.any, Mode.avg, Mode.head)


def enrolled_split(labels: np.ndarray, characters, k: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """k random references per character with more than k images; the rest of their images are targets."""
    references, targets = [], []
    for c in characters:
        rows = rng.permutation(np.flatnonzero(labels == c))
        if len(rows) > k:
            references += list(rows[:k])
            targets += list(rows[k:])
    return np.array(references, dtype=int), np.array(targets, dtype=int)


def top(fitted, queries: np.ndarray, mode: Mode) -> tuple[np.ndarray, np.ndarray]:
    ranked = rank_characters(fitted.index, queries, mode, fitted.head)
    return np.array([r[0][0] for r in ranked]), np.array([r[0][1] for r in ranked])


def closed_set(views, labels, k: int, repeats: int) -> dict | None:
    right = {m: [] for m in MODES}
    characters = 0
    for repeat in range(repeats):
        rng = np.random.default_rng(repeat)
        refs, targets = enrolled_split(labels, np.unique(labels), k, rng)
        if len(set(labels[refs])) < 2:
            return None
        characters = len(set(labels[refs]))
        fitted = fit_references(views[refs], labels[refs].tolist(), refs.tolist(), head=True, open_set=False)
        for mode in MODES:
            right[mode].append(np.mean(top(fitted, views[targets, 0], mode)[0] == labels[targets]))
    return {"k": k, "characters": characters, "targets": int(len(targets)),
            **{m.value: float(np.mean(v)) for m, v in right.items()}}


def open_set(views, labels, k: int, repeats: int, encoder_threshold: float) -> list[dict]:
    stats: dict[Mode, dict[str, list]] = {m: {} for m in MODES}
    for repeat in range(repeats):
        rng = np.random.default_rng(100 + repeat)
        characters = rng.permutation(np.unique(labels))
        strangers = characters[: max(1, len(characters) // 3)]
        refs, targets = enrolled_split(labels, characters[len(strangers):], k, rng)
        fitted = fit_references(views[refs], labels[refs].tolist(), refs.tolist(), head=True)
        queries = np.r_[targets, np.flatnonzero(np.isin(labels, strangers))]
        known = np.r_[np.ones(len(targets), bool), np.zeros(len(queries) - len(targets), bool)]
        for mode in MODES:
            names, scores = top(fitted, views[queries, 0], mode)
            right = names == labels[queries]
            out = stats[mode]
            threshold, _ = default_threshold(fitted.calibration, encoder_threshold, mode)  # as classify picks it
            out.setdefault("auroc", []).append(roc_auc_score(known, scores))
            out.setdefault("threshold", []).append(threshold)
            for name, t in (("calibrated", threshold), ("encoder", encoder_threshold)):
                named = scores >= t
                out.setdefault(f"{name}_strangers_unknown", []).append(np.mean(~named[~known]))
                out.setdefault(f"{name}_enrolled_right", []).append(np.mean((named & right)[known]))
            out.setdefault("closed_right", []).append(np.mean(right[known]))
    return [{"k": k, "mode": m.value, "strangers": len(strangers), **{key: float(np.mean(v)) for key, v in s.items()}}
            for m, s in stats.items()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", action="append", default=[], metavar="NAME=FOLDER")
    parser.add_argument("--encoder")
    parser.add_argument("--plugin-dir", action="append", default=[])
    parser.add_argument("--k", type=int, nargs="+", default=[1, 3, 5, 10, 20])
    parser.add_argument("--open-k", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--gray", action="store_true", help="turn every image grey first")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    plugins.load_plugins(args.plugin_dir)
    encoder = load_encoder(args.encoder)
    report = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, folder in sets_or_drawn(parser, args.set, tmp):
            pairs = labelled_images(folder)
            embedded = embed_paths(encoder, [p for _, p in pairs], views=partial(reference_views, mirror=not encoder.flip),
                                   grayscale=args.gray)
            label_of = {p: c for c, p in pairs}
            labels = np.array([label_of[p] for p in embedded.paths])
            colour = "grey" if args.gray else "colour"
            print(f"\n{name} ({len(labels)} images, {len(set(labels))} characters, {encoder.name}, {colour})\n")
            print("| k | characters | targets | Any | Avg | Head |\n| --- | --- | --- | --- | --- | --- |")
            closed = [r for k in args.k if (r := closed_set(embedded.views, labels, k, args.repeats))]
            for r in closed:
                print(f"| {r['k']} | {r['characters']} | {r['targets']} | {r['Any']:.3f} | {r['Avg']:.3f} | {r['Head']:.3f} |")
            rows = open_set(embedded.views, labels, args.open_k, args.repeats, encoder.threshold)
            print(f"\nopen set, {rows[0]['strangers']} characters never enrolled, {args.open_k} references each\n")
            print("| mode | AUROC | calibrated threshold | strangers unknown | enrolled named right | at the encoder's "
                  f"{encoder.threshold:.3f}: strangers unknown | enrolled named right | closed set |")
            print("|" + " --- |" * 8)
            for r in rows:
                print(f"| {r['mode']} | {r['auroc']:.3f} | {r['threshold']:.3f} | {r['calibrated_strangers_unknown']:.3f} | "
                      f"{r['calibrated_enrolled_right']:.3f} | {r['encoder_strangers_unknown']:.3f} | "
                      f"{r['encoder_enrolled_right']:.3f} | {r['closed_right']:.3f} |", flush=True)
            report.append({"set": name, "folder": folder, "encoder": encoder.name, "grayscale": args.gray,
                           "closed": closed, "open": rows})
    if args.json:
        write_json_atomic(args.json, report)


if __name__ == "__main__":
    main()
