"""The model table: several encoders on several labelled folders, in colour and in grey, in one run.
Prints one markdown row per (folder, encoder, colour); --json also writes every number.

    .venv/bin/python benchmarks/model_table.py \
        --set keima3=../shared/data/keima3_faces --set 'touhou=../shared/data/charfaces/touhou__*' \
        --encoder charfaces_lite0 --encoder color_texture [--plugin-dir plugins/candidate] [--runs 3] [--json out.json]

A folder's last part may be a glob that picks character sub-folders (a franchise of charfaces). Without
--set, a drawn set of made-up characters is used (numbers then only show that the script runs).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from reid import plugins
from reid.models.encoders import load_encoder
from reid.jobs.evaluate import evaluate
from reid.io.files import write_json_atomic
from reid.io.synthetic import write_dataset

COLUMNS = ("set", "encoder", "colour", "images", "top-1", "EER", "best F1", "F1 at t (P / R)", "t", "AMI", "s")


def row(name: str, colour: str, result, seconds: float) -> dict:
    v = result.verification
    ami = result.clustering_summary().get("ami", {"mean": float("nan"), "std": float("nan")})
    return {"set": name, "encoder": result.encoder, "colour": colour, "images": result.n_images,
            "characters": result.n_characters, "top1": result.top1, "eer": result.eer, "best_f1": result.best_f1["f1"],
            "best_f1_threshold": result.best_f1["threshold"], "f1": v["f1"], "precision": v["precision"],
            "recall": v["recall"], "threshold": result.threshold, "ami": ami["mean"], "ami_std": ami["std"],
            "seconds": seconds}


def markdown(r: dict) -> str:
    cells = (r["set"], r["encoder"], r["colour"], f"{r['images']} / {r['characters']}", f"{r['top1']:.3f}",
             f"{r['eer']:.3f}", f"{r['best_f1']:.3f}", f"{r['f1']:.3f} ({r['precision']:.2f} / {r['recall']:.2f})",
             f"{r['threshold']:.3f}", f"{r['ami']:.3f} ± {r['ami_std']:.3f}", f"{r['seconds']:.0f}")
    return "| " + " | ".join(cells) + " |"


def sets_or_drawn(parser: argparse.ArgumentParser, items: list[str], tmp: str) -> list[tuple[str, str]]:
    """(name, folder) per --set NAME=FOLDER; without any, a drawn set written under ``tmp``."""
    if any("=" not in item for item in items):
        parser.error("--set takes NAME=FOLDER")
    if items:
        return [tuple(item.split("=", 1)) for item in items]
    write_dataset(Path(tmp) / "drawn")
    return [("drawn", str(Path(tmp) / "drawn" / "references"))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", action="append", default=[], metavar="NAME=FOLDER")
    parser.add_argument("--encoder", action="append", default=[])
    parser.add_argument("--plugin-dir", action="append", default=[])
    parser.add_argument("--runs", type=int, default=3, help="clustering runs (UMAP seeds) per row")
    parser.add_argument("--colour", choices=("colour", "grey", "both"), default="both")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    plugins.load_plugins(args.plugin_dir)
    encoders = [load_encoder(name) for name in args.encoder or [None]]
    modes = {"colour": [False], "grey": [True], "both": [False, True]}[args.colour]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        sets = sets_or_drawn(parser, args.set, tmp)
        print("| " + " | ".join(COLUMNS) + " |")
        print("|" + " --- |" * len(COLUMNS))
        for name, folder in sets:
            for encoder in encoders:
                for grey in modes:
                    start = time.perf_counter()
                    result = evaluate(folder, encoder, runs=args.runs, grayscale=grey)
                    rows.append(row(name, "grey" if grey else "colour", result, time.perf_counter() - start))
                    print(markdown(rows[-1]), flush=True)
    if args.json:
        write_json_atomic(args.json, rows)


if __name__ == "__main__":
    main()
