"""Start-up time of the CLI: wall time of commands that should answer at once, beside an empty Python and an
`import torch` (what every command paid before the heavy imports moved into the commands); and `reid similarity`
on two drawn faces beside a script that only loads the default encoder and embeds them (what the command cannot
avoid). Prints numbers only.

    .venv/bin/python benchmarks/startup.py [--repeat 7] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REID = "from reid.app.entry import main; main()"
PROBES = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "python -c 'import torch'": [sys.executable, "-c", "import torch"],
    "reid --help": [sys.executable, "-c", REID, "--help"],
    "reid plugins": [sys.executable, "-c", REID, "plugins"],
    "reid similarity --help": [sys.executable, "-c", REID, "similarity", "--help"],
}


def wall(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - started


MODEL_ONLY = """
import sys
from reid.models.encoders import load_encoder
from reid.io.images import load_image
load_encoder(None).embed(load_image(p) for p in sys.argv[1:])
"""


def similarity_probes(folder: Path) -> dict[str, list[str]]:
    from reid.io.synthetic import write_dataset

    write_dataset(folder, characters=2, per_character=1, size=128, seed=0)
    a, b = sorted((folder / "references").rglob("*.png"))[:2]
    return {"reid similarity A B": [sys.executable, "-c", REID, "similarity", str(a), str(b)],
            "script: load the default encoder, embed A and B": [sys.executable, "-c", MODEL_ONLY, str(a), str(b)]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results = {}
    work = tempfile.TemporaryDirectory(prefix="reid-startup-")
    for name, command in {**PROBES, **similarity_probes(Path(work.name))}.items():
        wall(command)  # warm the file cache
        times = [wall(command) for _ in range(args.repeat)]
        results[name] = {"median_s": statistics.median(times), "min_s": min(times)}
    print("| command | median s | min s |\n| --- | --- | --- |")
    for name, r in results.items():
        print(f"| `{name}` | {r['median_s']:.3f} | {r['min_s']:.3f} |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
