"""Reference indexes at 100k, 1M and 10M references: build time, files on disk, load time, resident memory,
latency per query and agreement with exact search (the same reference, and the same character, as its top 1). Prints numbers only.

    .venv/bin/python benchmarks/index_search.py [--sizes 100000 1000000 10000000] [--kinds exact compact]
        [--baseline DIR] [--model FILE.npz] [--json FILE]

References are synthetic but shaped like the default encoder's (944-d) embeddings: ``--model`` is a file of
real embeddings (``vectors``, ``labels``) whose between-character and within-character spectra the
generator copies (top 256 axes each, the rest as isotropic noise of the same energy); without it a
power-law spectrum stands in. 20 references per character. Queries are new pictures of enrolled
characters. Each build and each search runs in its own process, so memory is its own; exact search over
every vector, streamed, is the truth that recall@1 is measured against.

``--baseline DIR`` adds the code of another checkout (``git worktree add DIR COMMIT``) as kinds
``baseline-exact`` and ``baseline-ivfN``: the index before the compact one, with its label map as one JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

DIM = 944
PER_CHARACTER = 20
CHUNK = 100_000
QUERIES = 1000
SINGLE_QUERIES = 100
SPECTRUM_AXES = 256


def spectra(model: Path | None, dim: int = DIM) -> dict[str, np.ndarray]:
    """Mean direction and the axes x scales of the between- and within-character spreads, plus the noise left."""
    if model is None:
        rng = np.random.default_rng(1)
        axes = np.linalg.qr(rng.normal(size=(dim, dim)))[0]
        scale = 1.0 / np.sqrt(np.arange(1, dim + 1))
        return {"mean": axes[:, 0] * 0.6, "between": axes[:, 1:SPECTRUM_AXES + 1] * scale[:SPECTRUM_AXES] * 0.9,
                "within": axes[:, 1:SPECTRUM_AXES + 1] * scale[:SPECTRUM_AXES] * 0.6, "noise": np.array(0.004)}
    data = np.load(model)
    vectors, labels = data["vectors"].astype(np.float64), data["labels"]
    names, inverse = np.unique(labels, return_inverse=True)
    centres = np.stack([vectors[inverse == i].mean(0) for i in range(len(names))])
    residual = vectors - centres[inverse]
    out = {"mean": centres.mean(0)}
    tail = 0.0
    for key, sample in (("between", centres - out["mean"]), ("within", residual)):
        values, axes = np.linalg.eigh(sample.T @ sample / len(sample))
        top = np.argsort(values)[::-1]
        out[key] = axes[:, top[:SPECTRUM_AXES]] * np.sqrt(np.maximum(values[top[:SPECTRUM_AXES]], 0))
        if key == "within":
            tail = values[top[SPECTRUM_AXES:]].clip(0).sum() / dim
    out["noise"] = np.array(np.sqrt(tail))
    return out


def chunk(spectrum: dict, start: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """References start..start+size: the same numbers in every process."""
    rng = np.random.default_rng([7, start])
    characters = np.arange(start, start + size) // PER_CHARACTER
    return _pictures(spectrum, characters, rng), characters


def queries(spectrum: dict, n_references: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng([9, n_references])
    characters = rng.integers(0, n_references // PER_CHARACTER, QUERIES)
    return _pictures(spectrum, characters, rng), characters


_LATENT: dict[int, np.ndarray] = {}


def _character_latents(characters: int) -> np.ndarray:
    """One row per character, the same in every process (a longer draw from one seed starts with the shorter)."""
    if _LATENT.get("n", 0) < characters:
        _LATENT["n"] = characters
        _LATENT["table"] = np.random.default_rng(3).standard_normal((characters, SPECTRUM_AXES), dtype=np.float32)
    return _LATENT["table"]


def _pictures(spectrum: dict, characters: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    centres = _character_latents(int(characters.max()) + 1)[characters] @ spectrum["between"].T.astype(np.float32)
    spread = rng.standard_normal((len(characters), SPECTRUM_AXES), dtype=np.float32) @ spectrum["within"].T.astype(np.float32)
    noise = rng.standard_normal((len(characters), spectrum["mean"].shape[0]), dtype=np.float32) * float(spectrum["noise"])
    vectors = spectrum["mean"].astype(np.float32) + centres + spread + noise
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def exact_truth(spectrum: dict, n: int) -> np.ndarray:
    """The id of each query's nearest reference, by a streamed exact scan."""
    q, _ = queries(spectrum, n)
    best, best_id = np.full(len(q), -np.inf), np.zeros(len(q), dtype=np.int64)
    for start in range(0, n, CHUNK):
        refs, _ = chunk(spectrum, start, min(CHUNK, n - start))
        scores = q @ refs.T
        top = scores.argmax(1)
        better = scores[np.arange(len(q)), top] > best
        best[better], best_id[better] = scores[np.arange(len(q)), top][better], top[better] + start
    return best_id


def build(spectrum: dict, n: int, kind: str, path: Path) -> dict:
    from reid.search import index as reid_index

    start = time.perf_counter()
    characters = [f"character_{c:07d}" for c in range(n // PER_CHARACTER)]
    if kind.startswith("baseline"):  # the earlier API: every vector in memory, paths in the label map
        vectors, ids = zip(*(chunk(spectrum, s, min(CHUNK, n - s)) for s in range(0, n, CHUNK)))
        ids = np.concatenate(ids)
        lists = int(kind.split("ivf")[1]) if "ivf" in kind else 0
        generated = time.perf_counter() - start
        index = reid_index.ReferenceIndex.build(np.concatenate(vectors), [characters[i] for i in ids],
                                                [f"/references/{characters[i]}/{r:09d}.png" for r, i in enumerate(ids)],
                                                ivf_lists=lists)
    else:
        builder = reid_index.IndexBuilder(characters, reid_index.IndexKind(kind), references=n)
        rows = reid_index.sample_rows(n)
        sample = np.concatenate([chunk(spectrum, s, min(CHUNK, n - s))[0][rows[(rows >= s) & (rows < s + CHUNK)] - s]
                                 for s in range(0, n, CHUNK)])
        generated = time.perf_counter() - start
        builder.train(sample)
        for s in range(0, n, CHUNK):
            started = time.perf_counter()
            vectors, ids = chunk(spectrum, s, min(CHUNK, n - s))
            generated += time.perf_counter() - started
            builder.add(vectors, ids)
        index = builder.finish()
    index.save(path)
    files = [p for p in path.parent.iterdir() if p.name.startswith(path.name)]
    return {"build_s": time.perf_counter() - start - generated, "disk_mb": sum(p.stat().st_size for p in files) / 2**20}


def _memory_mb() -> dict:
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    return {k: int(fields[k].split()[0]) / 1024 for k in ("RssAnon", "RssFile", "VmHWM")}


def search(spectrum: dict, n: int, path: Path, ids_out: Path) -> dict:
    from reid.search.index import ReferenceIndex

    q, _ = queries(spectrum, n)
    before = _memory_mb()
    start = time.perf_counter()
    index = ReferenceIndex.load(path)
    loaded = time.perf_counter() - start
    after_load = _memory_mb()
    start = time.perf_counter()
    _, ids = index.search(q, 10)
    batch = time.perf_counter() - start
    single = []
    for row in q[:SINGLE_QUERIES]:
        start = time.perf_counter()
        index.search(row[None], 10)
        single.append(time.perf_counter() - start)
    np.save(ids_out, ids[:, 0])
    used = _memory_mb()
    return {"load_s": loaded, "private_mb_after_load": after_load["RssAnon"] - before["RssAnon"],
            "private_mb_after_queries": used["RssAnon"] - before["RssAnon"], "mapped_mb": used["RssFile"] - before["RssFile"],
            "batch_ms_per_query": 1000 * batch / len(q), "single_query_ms": 1000 * float(np.median(single)),
            **_deeper_searches(index, q, ids_out)}


DEEPER = {"nprobe128": (128, None, 10), "refine16": (None, 16, 10), "scan_codes": (None, None, 10),
          "classify_depth": (None, None, 256)}  # (nprobe, k_factor, k); reid.search.ranking searches 256 deep


def _deeper_searches(index, q: np.ndarray, ids_out: Path) -> dict:
    """Where a compact index loses its misses: more inverted lists visited, more candidates re-ranked, or every
    8-bit code scanned (what projection and quantisation alone cost)."""
    import faiss

    from reid.search.index import NPROBE, REFINE_FACTOR

    refined = faiss.downcast_index(index.index)
    if not isinstance(refined, faiss.IndexRefine):
        return {}
    coarse, out = faiss.downcast_index(refined.base_index), {}
    projected = np.ascontiguousarray(index.project(q), dtype=np.float32)
    for name, (nprobe, k_factor, k) in DEEPER.items():
        coarse.nprobe, refined.k_factor = nprobe or NPROBE, k_factor or REFINE_FACTOR
        searched = faiss.downcast_index(refined.refine_index) if name == "scan_codes" else refined
        start = time.perf_counter()
        _, ids = searched.search(projected, k)  # the refine re-ranks k x k_factor candidates
        out[f"{name}_batch_ms_per_query"] = 1000 * (time.perf_counter() - start) / len(q)
        np.save(f"{ids_out}.{name}.npy", ids[:, 0])
    return out


def _run(args: list[str], baseline: Path | None) -> dict:
    env = dict(os.environ)
    if baseline is not None:
        env["PYTHONPATH"] = str(baseline)
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, env=env)
    if out.returncode:
        return {"error": (out.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000, 10_000_000])
    parser.add_argument("--kinds", nargs="+", default=["exact", "compact"])
    parser.add_argument("--baseline", type=Path, help="a checkout of the code to compare with")
    parser.add_argument("--baseline-kinds", nargs="+", default=["baseline-exact", "baseline-ivf1000"])
    parser.add_argument("--max-exact", type=int, default=1_000_000, help="larger sizes skip kinds that keep every vector")
    parser.add_argument("--model", type=Path, help="real embeddings (vectors, labels) whose spectra the references copy")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--step", nargs=4, help=argparse.SUPPRESS)  # build|search N KIND PATH, in a child process
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="reid-index-bench-") as work:
        spectrum_path = Path(os.environ.get("REID_BENCH_SPECTRUM", Path(work) / "spectrum.npz"))
        if args.step:
            spectrum = dict(np.load(spectrum_path))
            step, n, kind, path = args.step
            result = (build(spectrum, int(n), kind, Path(path)) if step == "build"
                      else search(spectrum, int(n), Path(path), Path(path + ".ids.npy")))
            print(json.dumps(result))
            return
        np.savez(spectrum_path, **spectra(args.model))
        os.environ["REID_BENCH_SPECTRUM"] = str(spectrum_path)
        spectrum = dict(np.load(spectrum_path))
        rows = []
        for n in args.sizes:
            truth = exact_truth(spectrum, n)
            kinds = [(k, None) for k in args.kinds] + [(k, args.baseline) for k in args.baseline_kinds if args.baseline]
            for kind, code in kinds:
                if n > args.max_exact and kind != "compact":
                    rows.append({"references": n, "kind": kind, "error": f"every vector kept: {n * DIM * 4 / 2**30:.0f} GiB"})
                    continue
                path = Path(work) / f"{kind}-{n}.faiss"
                row = {"references": n, "kind": kind, **_run(["--step", "build", str(n), kind, str(path)], code)}
                if "error" not in row:
                    row.update(_run(["--step", "search", str(n), kind, str(path)], code))
                if "error" not in row:
                    found = np.load(str(path) + ".ids.npy")
                    row["recall_at_1"] = float(np.mean(found == truth))
                    row["same_character"] = float(np.mean(found // PER_CHARACTER == truth // PER_CHARACTER))
                    for name in DEEPER:
                        if Path(f"{path}.ids.npy.{name}.npy").exists():
                            deeper = np.load(f"{path}.ids.npy.{name}.npy")
                            row[f"{name}_same_character"] = float(np.mean(deeper // PER_CHARACTER == truth // PER_CHARACTER))
                for p in Path(work).glob(f"{kind}-{n}.faiss*"):
                    p.unlink()
                rows.append(row)
                print(json.dumps(row), file=sys.stderr, flush=True)
    columns = ["build_s", "disk_mb", "load_s", "private_mb_after_load", "private_mb_after_queries", "mapped_mb",
               "batch_ms_per_query", "single_query_ms", "recall_at_1", "same_character"]
    print("| references | kind | " + " | ".join(columns) + " |")
    print("| --- | --- |" + " --- |" * len(columns))
    for r in rows:
        cells = [r.get("error", "")] if "error" in r else [
            f"{r[c]:,.3f}" if c in ("recall_at_1", "same_character", "load_s", "batch_ms_per_query", "single_query_ms") else f"{r[c]:,.1f}"
            for c in columns]
        print(f"| {r['references']:,} | {r['kind']} | " + " | ".join(cells) + " |")
    deeper = [r for r in rows if f"{next(iter(DEEPER))}_same_character" in r]
    if deeper:
        print("\n| references | kind | search | ms / query (batch) | same character |\n| --- | --- | --- | --- | --- |")
        for r in deeper:
            print(f"| {r['references']:,} | {r['kind']} | default, k 10 | {r['batch_ms_per_query']:.3f} | {r['same_character']:.3f} |")
            for name in DEEPER:
                print(f"| {r['references']:,} | {r['kind']} | {name} | {r[f'{name}_batch_ms_per_query']:.3f} | "
                      f"{r[f'{name}_same_character']:.3f} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
