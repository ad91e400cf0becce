"""Verification metrics from every pair against a stratified, weighted sample of pairs: time, memory and how
far the estimates (EER, F1 at a threshold, best F1) lie from the exact values. Prints numbers only.

    .venv/bin/python benchmarks/pair_sampling.py [--sizes 3000 10000 100000] [--exact-up-to 10000] \
        [--characters 1000] [--dim 512] [--max-pairs 5000000]

The vectors are synthetic: one centre per character, faces scattered around it, so that same-character pairs
score higher but overlap different ones (EER around 0.1).
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np

from reid.search import metrics


def faces(n: int, characters: int, dim: int, seed: int = 0) -> tuple[np.ndarray, list[str]]:
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, characters, n)
    centres = rng.normal(size=(characters, dim)).astype(np.float32)
    vectors = centres[codes] + rng.normal(scale=2.5, size=(n, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.ascontiguousarray(vectors), [f"c{c}" for c in codes]


def measure(vectors: np.ndarray, labels: list[str], max_pairs: int) -> dict:
    tracemalloc.start()  # numpy reports its arrays to tracemalloc: the peak is what the metrics allocated
    began = time.perf_counter()
    pairs = metrics.verification_pairs(vectors, labels, max_pairs=max_pairs)
    eer, threshold = metrics.equal_error_rate(pairs.scores, pairs.same, pairs.weights)
    f1 = metrics.verification_at(pairs.scores, pairs.same, threshold, pairs.weights)["f1"]
    best = metrics.best_f1(pairs.scores, pairs.same, pairs.weights)["f1"]
    seconds, peak = time.perf_counter() - began, tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {"seconds": seconds, "scored": len(pairs.scores), "eer": eer, "threshold": threshold,
            "f1": f1, "best_f1": best, "peak_mb": peak / 2**20}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[3000, 10000, 100000])
    parser.add_argument("--exact-up-to", type=int, default=10000)
    parser.add_argument("--characters", type=int, default=1000)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--max-pairs", type=int, default=metrics.MAX_PAIRS)
    args = parser.parse_args()
    print("| faces | pairs | method | pairs scored | seconds | peak memory (MB) | EER | F1 at EER threshold | best F1 |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for n in args.sizes:
        vectors, labels = faces(n, args.characters, args.dim)
        total = n * (n - 1) // 2
        runs = [("sampled", args.max_pairs)]
        if n <= args.exact_up_to:
            runs.insert(0, ("every pair", total))  # today's evaluate: the n x n score matrix
        for method, budget in runs:
            r = measure(vectors, labels, budget)
            print(f"| {n:,} | {total:,} | {method} | {r['scored']:,} | {r['seconds']:.2f} | {r['peak_mb']:.0f} | "
                  f"{r['eer']:.4f} | {r['f1']:.4f} | {r['best_f1']:.4f} |")


if __name__ == "__main__":
    main()
