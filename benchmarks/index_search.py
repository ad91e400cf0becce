"""Reference-index build and search time, exact vs IVF, on random unit vectors. Prints numbers only.

    .venv/bin/python benchmarks/index_search.py [--n 200000] [--dim 500] [--queries 1000] [--ivf 1024]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from reid.index import ReferenceIndex


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--dim", type=int, default=500)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--ivf", type=int, default=1024)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(args.n, args.dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    queries = vectors[rng.choice(args.n, args.queries, replace=False)]
    labels = [f"c{i % 1000}" for i in range(args.n)]
    exact_ids = None
    for name, lists in (("exact", 0), (f"ivf{args.ivf}", args.ivf)):
        start = time.perf_counter()
        index = ReferenceIndex.build(vectors, labels, [""] * args.n, ivf_lists=lists)
        built = time.perf_counter() - start
        start = time.perf_counter()
        _, ids = index.search(queries, 10)
        searched = time.perf_counter() - start
        exact_ids = ids if exact_ids is None else exact_ids
        recall = float(np.mean(ids[:, 0] == exact_ids[:, 0]))
        print(f"{name}: n={args.n} dim={args.dim} build={built:.2f}s "
              f"search={1000 * searched / args.queries:.3f}ms/query top1_agreement_with_exact={recall:.3f}")


if __name__ == "__main__":
    main()
