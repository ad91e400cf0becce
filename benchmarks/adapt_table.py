"""Enrollment-time adaptation (`reid enroll --adapt`) against the head on frozen embeddings, on labelled folders.

    .venv/bin/python benchmarks/adapt_table.py --set 'wuwa=../shared/data/charfaces/wuwa__*' \
        --set af10=../shared/data/animeface10_faces [--refs 3 5 10 20] [--splits 3] \
        [--depth last_block] [--steps 120] [--lr 3e-4] [--anchor 1.0] [--mix 1.0] [--json out.json]

Per set, reference count N and split: a third of the characters are strangers (never enrolled), the others
with more than N images enroll N random ones; up to --targets other images of each enrolled character, and
of each stranger, are the targets. Every image is run once through the frozen layers, so each setting
costs its adaptations alone (one on all references, one per calibration fold), as `reid enroll --adapt`
does them. Columns, per mode: closed-set right (nearest character), right with unknown allowed (named and
right at the calibrated threshold), strangers unknown; and the seconds each adaptation took. --depth,
--steps, --lr, --anchor and --mix take several values: every combination is a row. Without --set a drawn set of
made-up characters is used.
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
import time
from pathlib import Path

import numpy as np
from model_table import sets_or_drawn

from reid import plugins
from reid.io.files import write_json_atomic
from reid.io.images import load_image
from reid.io.inputs import labelled_images
from reid.jobs.classify import default_threshold
from reid.models.encoders import load_encoder
from reid.search.adapted_enrollment import adaptation_holds_up, fit_adapted, fold_score, prepare
from reid.search.enrollment import fit_references
from reid.search.ranking import Mode, rank_characters
from reid.training.adapt import AdaptSettings

MODES = (Mode.any, Mode.avg, Mode.head)
FROZEN = "frozen (Head today)"
STRANGER_SHARE = 1 / 3


def split(labels: np.ndarray, n: int, targets: int, rng) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(reference rows, enrolled targets, stranger targets)."""
    characters = rng.permutation(np.unique(labels))
    strangers = characters[: max(1, round(len(characters) * STRANGER_SHARE))]
    refs, known, unknown = [], [], []
    for c in characters:
        rows = rng.permutation(np.flatnonzero(labels == c))
        if c in strangers:
            unknown += list(rows[:targets])
        elif len(rows) > n:
            refs += list(rows[:n])
            known += list(rows[n:n + targets])
    return np.array(refs, int), np.array(known, int), np.array(unknown, int)


def score(fitted, queries: np.ndarray, truth: np.ndarray, n_known: int, encoder_threshold: float) -> dict:
    out = {}
    for mode in MODES:
        ranked = rank_characters(fitted.index, queries, mode, fitted.head)
        names = np.array([r[0][0] for r in ranked])
        scores = np.array([r[0][1] for r in ranked])
        threshold, _ = default_threshold(fitted.calibration, encoder_threshold, mode)
        named, right = scores >= threshold, names == truth
        out[mode.value] = {"closed": float(np.mean(right[:n_known])),
                           "open": float(np.mean((named & right)[:n_known])),
                           "strangers": float(np.mean(~named[n_known:]))}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", action="append", default=[], metavar="NAME=FOLDER")
    parser.add_argument("--encoder")
    parser.add_argument("--plugin-dir", action="append", default=[])
    parser.add_argument("--refs", type=int, nargs="+", default=[3, 5, 10, 20])
    parser.add_argument("--splits", type=int, default=3)
    parser.add_argument("--targets", type=int, default=30)
    defaults = AdaptSettings()
    parser.add_argument("--depth", nargs="+", default=[defaults.depth])
    parser.add_argument("--steps", type=int, nargs="+", default=[defaults.steps])
    parser.add_argument("--lr", type=float, nargs="+", default=[defaults.lr])
    parser.add_argument("--anchor", type=float, nargs="+", default=[defaults.anchor])
    parser.add_argument("--mix", type=float, nargs="+", default=[defaults.mix])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    plugins.load_plugins(args.plugin_dir)
    encoder = load_encoder(args.encoder)
    grid = [AdaptSettings(depth=d, steps=s, lr=lr, anchor=a, mix=m)
            for d, s, lr, a, m in itertools.product(args.depth, args.steps, args.lr, args.anchor, args.mix)]
    report = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, folder in sets_or_drawn(parser, args.set, tmp):
            pairs = labelled_images(folder)
            paths = [p for _, p in pairs]
            labels = np.array([c for c, _ in pairs])
            images = [load_image(p) for p in paths]
            for n, s in itertools.product(args.refs, range(args.splits)):
                refs, known, unknown = split(labels, n, args.targets, np.random.default_rng(s))
                if len(set(labels[refs])) < 2:
                    continue
                queries = np.r_[known, unknown]
                prepared = prepare(encoder, [images[i] for i in refs], labels[refs].tolist(), augmented=defaults.views)
                targets = prepare(encoder, [images[i] for i in queries], labels[queries].tolist(), augmented=0,
                                  names=["image"])
                row = {"set": name, "refs": n, "split": s, "characters": len(set(labels[refs])),
                       "strangers": len(set(labels[unknown])), "targets": len(queries)}
                base = fit_references(prepared.views(), labels[refs].tolist(), refs.tolist(), head=True)
                frozen = score(base, targets.views()[:, 0], labels[queries], len(known), encoder.threshold)
                report.append({**row, "setting": FROZEN, **frozen})
                for settings in grid:
                    started = time.perf_counter()
                    fitted, tail = fit_adapted(prepared, refs.tolist(), settings)
                    seconds = time.perf_counter() - started
                    label = (f"{settings.depth} steps {settings.steps} lr {settings.lr:g} anchor {settings.anchor:g} "
                             f"mix {settings.mix:g}")
                    adapted = score(fitted, targets.views(tail)[:, 0], labels[queries], len(known), encoder.threshold)
                    report.append({**row, "setting": label, "seconds": seconds, **adapted,
                                   "folds": [fold_score(base.calibration), fold_score(fitted.calibration)]})
                    kept = adaptation_holds_up(base.calibration, fitted.calibration)
                    report.append({**row, "setting": f"{label}, set aside where the folds say it is worse", "seconds": seconds,
                                   "kept": kept, **(adapted if kept else frozen)})
                print(f"{name} N={n} split {s}: {row['characters']} characters, {row['strangers']} strangers, "
                      f"{row['targets']} targets", flush=True)
                if args.json:  # after every split: a long run that is stopped keeps what it measured
                    write_json_atomic(args.json, report)
            print_table(report, name)


def print_table(report: list[dict], name: str) -> None:
    rows = [r for r in report if r["set"] == name]
    print(f"\n{name}: mean over splits; per mode closed-set right / right with unknown / strangers unknown\n")
    print("| N | setting | Any | Avg | Head | seconds |\n| --- | --- | --- | --- | --- | --- |")
    for (n, setting), group in itertools.groupby(sorted(rows, key=lambda r: (r["refs"], r["setting"] != FROZEN, r["setting"])),
                                                 key=lambda r: (r["refs"], r["setting"])):
        group = list(group)
        cells = []
        for mode in MODES:
            m = {k: np.mean([g[mode.value][k] for g in group]) for k in ("closed", "open", "strangers")}
            cells.append(f"{m['closed']:.3f} / {m['open']:.3f} / {m['strangers']:.3f}")
        seconds = np.mean([g.get("seconds", 0.0) for g in group])
        kept = [g["kept"] for g in group if "kept" in g]
        setting += f" ({sum(kept)} of {len(kept)} splits adapted)" if kept else ""
        print(f"| {n} | {setting} | " + " | ".join(cells) + f" | {seconds:.1f} |", flush=True)


if __name__ == "__main__":
    main()
