"""Clustering at scale: synthetic faces of many characters (512-d), each method in its own process so its peak
memory is its own: UMAP to 32-d + HDBSCAN (the default) against the faiss k-NN graph (no UMAP). Time, peak
resident memory, clusters found and AMI against the truth. Prints numbers only.

    .venv/bin/python benchmarks/cluster_scale.py [--sizes 10000 100000] [--per-character 50] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

METHODS = {"umap32 + hdbscan (default)": ("hdbscan", 32), "knn_graph": ("knn_graph", 0)}


def faces(n: int, per_character: int, dim: int = 512, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors around one random centre per character; two faces of one character score about 0.83."""
    rng = np.random.default_rng(seed)
    characters = max(2, n // per_character)
    truth = rng.integers(0, characters, n)
    centres = rng.normal(size=(characters, dim)).astype(np.float32)
    vectors = centres[truth] + rng.normal(scale=0.45, size=(n, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors, truth


def one(n: int, per_character: int, method: str) -> dict:
    from sklearn.metrics import adjusted_mutual_info_score

    from reid.models.clustering import cluster_vectors

    vectors, truth = faces(n, per_character)
    name, umap_dim = METHODS[method]
    start = time.perf_counter()
    result = cluster_vectors(vectors, method=name, umap_dim=umap_dim, min_cluster_size=5)
    seconds = time.perf_counter() - start
    return {"faces": n, "characters": int(truth.max()) + 1, "method": method, "seconds": seconds,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "clusters": result.n_clusters,
            "noise": result.n_noise / n, "ami": float(adjusted_mutual_info_score(truth, result.labels))}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--per-character", type=int, default=50)
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    parser.add_argument("--one", nargs=2, metavar=("N", "METHOD"), help=argparse.SUPPRESS)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(int(args.one[0]), args.per_character, args.one[1])))
        return
    rows = []
    for n in args.sizes:
        for method in args.methods:
            out = subprocess.run([sys.executable, __file__, "--one", str(n), method, "--per-character",
                                  str(args.per_character)], capture_output=True, text=True, check=True)
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print("| faces | characters | method | seconds | peak memory MB | clusters | noise | AMI |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['faces']:,} | {r['characters']:,} | {r['method']} | {r['seconds']:.1f} | {r['peak_mb']:,.0f} | "
              f"{r['clusters']:,} | {r['noise']:.3f} | {r['ami']:.3f} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
