"""Evaluating an encoder on a labelled folder (one sub-folder per character)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from reid.search import metrics
from reid.models.clustering import check_method, cluster_vectors
from reid.models.context import BodyContext
from reid.models.detectors.base import Detector
from reid.models.embedding import Embedded, embed_paths
from reid.progress import NoProgress, Progress
from reid.models.encoders.base import Encoder
from reid.errors import ImageLoadError, ReidError
from reid.io.images import list_images
from reid.io.inputs import identical_files, labelled_images


@dataclass
class Mistake:
    """A face whose nearest other face shows another character."""

    face: dict  # {"path", "box"?}, as Embedded.entry gives it
    character: str
    neighbour: dict
    neighbour_character: str
    score: float


@dataclass
class Evaluation:
    encoder: str
    n_images: int
    n_characters: int
    threshold: float
    top1: float | None  # None, like the verification metrics below, when no character has two faces
    eer: float | None
    eer_threshold: float | None
    verification: dict[str, float] | None
    best_f1: dict[str, float] | None
    clustering_runs: list[dict[str, float]]
    failures: list[ImageLoadError] = field(default_factory=list)
    confusion: dict[str, dict[str, int]] = field(default_factory=dict)  # true -> nearest neighbour's character -> faces
    mistakes: list[Mistake] = field(default_factory=list)  # worst (highest-scoring) first
    score_histogram: dict[str, list] = field(default_factory=dict)
    dataset: str = ""
    method: str = "hdbscan"
    detector: str | None = None
    margin: float = 0.0
    context: dict | None = None
    no_face: list[Path] = field(default_factory=list)
    grayscale: bool = False
    pairs: dict = field(default_factory=dict)  # verification pairs: how many, how many scored, sampled or not
    not_computed: dict[str, str] = field(default_factory=dict)  # metric -> why it could not be computed
    copies: list[list[str]] = field(default_factory=list)  # byte-identical images, each group's files

    def clustering_summary(self) -> dict[str, dict[str, float]]:
        keys = self.clustering_runs[0].keys() if self.clustering_runs else []
        return {k: {"mean": float(np.mean([r[k] for r in self.clustering_runs])),
                    "std": float(np.std([r[k] for r in self.clustering_runs]))} for k in keys}

    def per_character(self) -> dict[str, dict]:
        """Each character's faces, leave-one-out recall, and the character its faces are most often mistaken for."""
        out = {}
        for name in sorted(self.confusion):
            row = self.confusion[name]
            total = sum(row.values())
            wrong = {other: n for other, n in row.items() if other != name}
            out[name] = {"faces": total, "top1_recall": row.get(name, 0) / total,
                         "confused_with": max(wrong, key=wrong.get) if wrong else None}
        return out

    def confused_pairs(self) -> list[tuple[str, str, int]]:
        """Character pairs by how many faces of either had the other as nearest neighbour, worst first."""
        pairs: dict[tuple[str, str], int] = {}
        for true, row in self.confusion.items():
            for other, count in row.items():
                if other != true:
                    key = tuple(sorted((true, other)))
                    pairs[key] = pairs.get(key, 0) + count
        return sorted(((a, b, n) for (a, b), n in pairs.items()), key=lambda t: (-t[2], t[0], t[1]))

    def summary_rows(self) -> list[tuple[str, str]]:
        """The headline metrics as (name, value) text, as the CLI table and the HTML report show them."""
        v, c = self.verification, self.clustering_summary()
        runs = len(self.clustering_runs)
        if v is None or self.best_f1 is None or self.eer is None or self.top1 is None:
            verification = [(name, "-") for name in ("top-1 (leave-one-out)", "EER", f"F1 at threshold {self.threshold:.2f}",
                                                     "best F1 (any threshold)")]
            verification.append(("not computed", f"top-1, EER and F1: {next(iter(self.not_computed.values()), '')}"))
        else:
            verification = [
                ("top-1 (leave-one-out)", f"{self.top1:.3f}"),
                ("EER", f"{self.eer:.3f} (at score {self.eer_threshold:.3f})"
                        + (f", from {self.pairs['scored']:,} of {self.pairs['pairs']:,} pairs" if self.pairs.get("sampled") else "")),
                (f"F1 at threshold {self.threshold:.2f}", f"{v['f1']:.3f} (precision {v['precision']:.3f}, recall {v['recall']:.3f})"),
                ("best F1 (any threshold)", f"{self.best_f1['f1']:.3f} (at score {self.best_f1['threshold']:.3f})")]
        return [
            *verification,
            *[(f"{k.upper()} ({self.method}, {runs} runs)", f"{s['mean']:.3f} ± {s['std']:.3f}")
              for k, s in c.items() if k in ("ami", "nmi", "ari")],
            ("clusters found (mean)", f"{c['clusters']['mean']:.1f} for {self.n_characters} characters"),
            ("noise share (mean)", f"{c['noise']['mean']:.3f}"),
        ]

    def to_json(self) -> dict:
        return {
            "encoder": self.encoder, "images": self.n_images, "characters": self.n_characters,
            "threshold": self.threshold, "top1": self.top1, "eer": self.eer, "eer_threshold": self.eer_threshold,
            **{f"{k}_at_threshold": (self.verification or {}).get(k) for k in ("precision", "recall", "f1")},
            "best_f1": self.best_f1, "not_computed": self.not_computed, "copies": self.copies,
            "grayscale": self.grayscale,
            "clustering": self.clustering_summary(), "clustering_runs": self.clustering_runs,
            "per_character": self.per_character(),
            "confused_pairs": [{"a": a, "b": b, "faces": n} for a, b, n in self.confused_pairs()],
            "score_histogram": self.score_histogram, "verification_pairs": self.pairs,
            "detector": self.detector, "context": self.context,
            "skipped": [{"path": str(f.path), "reason": f.reason} for f in self.failures],
            "no_face": [str(p) for p in self.no_face],
        }


def _neighbour_analysis(labels: list[str], vectors: np.ndarray, embedded: Embedded):
    """The confusion of nearest neighbours (true -> neighbour's character -> faces) and the mistakes, worst first."""
    neighbours, scores = metrics.nearest_others(vectors)
    confusion: dict[str, dict[str, int]] = {}
    for label, j in zip(labels, neighbours):
        row = confusion.setdefault(label, {})
        row[labels[j]] = row.get(labels[j], 0) + 1
    mistakes = [Mistake(embedded.entry(i), labels[i], embedded.entry(int(j)), labels[j], float(s))
                for i, (j, s) in enumerate(zip(neighbours, scores)) if labels[j] != labels[i]]
    mistakes.sort(key=lambda m: -m.score)
    return confusion, mistakes


def evaluate(dataset_dir: str | Path, encoder: Encoder, *, runs: int = 10, method: str = "hdbscan",
             umap_dim: int = 32, min_cluster_size: int = 5, merge_threshold: float | None = None,
             threshold: float | None = None, detector: Detector | None = None, context: BodyContext | None = None,
             grayscale: bool = False, progress: Progress | None = None) -> Evaluation:
    """Every face gets its folder's character; with a ``detector``, each face found in an illustration.
    ``grayscale`` measures the manga case on a colour set: every image is turned grey first."""
    check_method(method)
    pairs = labelled_images(dataset_dir)
    label_of = {path: label for label, path in pairs}
    embedded = embed_paths(encoder, [p for _, p in pairs], progress=progress, detector=detector, context=context,
                           grayscale=grayscale)
    labels = [label_of[p] for p in embedded.paths]
    if len(set(labels)) < 2:
        raise ReidError(f"{dataset_dir}: fewer than two characters have readable images"
                        + (" with a face found" if detector is not None else ""))
    vectors = embedded.vectors
    threshold = encoder.threshold if threshold is None else threshold
    pairs = metrics.verification_pairs(vectors, labels)
    scores, same, weights = pairs.scores, pairs.same, pairs.weights
    confusion, mistakes = _neighbour_analysis(labels, vectors, embedded)
    not_computed = {}
    if same.any():
        eer, eer_threshold = metrics.equal_error_rate(scores, same, weights)
        verification, best = metrics.verification_at(scores, same, threshold, weights), metrics.best_f1(scores, same, weights)
        top1 = 1 - len(mistakes) / len(labels)
    else:  # every character has one face: no face has a right answer to find
        eer = eer_threshold = verification = best = top1 = None
        not_computed = {metric: "no character has two faces, so there is no same-character pair"
                        for metric in ("top1", "eer", "f1_at_threshold", "best_f1")}
    progress = progress or NoProgress()
    progress.start(runs, "clustering runs")
    runs_out = []
    for seed in range(runs):
        clustering = cluster_vectors(vectors, method=method, umap_dim=umap_dim, min_cluster_size=min_cluster_size,
                                     seed=seed, merge_threshold=merge_threshold)
        runs_out.append({**metrics.clustering_scores(labels, clustering.labels), "clusters": clustering.n_clusters,
                         "noise": clustering.n_noise / len(labels)})
        progress.advance(1)
    return Evaluation(
        encoder.name, len(labels), len(set(labels)), threshold, top1=top1, eer=eer,
        eer_threshold=eer_threshold, verification=verification, best_f1=best, pairs=pairs.describe(),
        not_computed=not_computed, copies=[[str(p) for p in group] for group in identical_files(embedded.paths)],
        clustering_runs=runs_out, failures=embedded.failures, confusion=confusion,
        mistakes=mistakes, score_histogram=metrics.score_histogram(scores, same, weights=weights),
        dataset=str(dataset_dir),
        method=method, detector=detector.name if detector is not None else None,
        margin=detector.margin if detector is not None else 0.0,
        context=context.identity() if context is not None else None, no_face=embedded.no_face, grayscale=grayscale)


PER_TITLE_METRICS = ("top1", "eer", "best_f1", "ami", "nmi", "ari")


def title_metrics(result: Evaluation) -> dict[str, float | None]:
    """The numbers averaged over titles: top-1, EER, best F1 and the clustering scores (means over runs)."""
    clustering = result.clustering_summary()
    return {"top1": result.top1, "eer": result.eer, "best_f1": result.best_f1["f1"] if result.best_f1 else None,
            **{k: clustering[k]["mean"] for k in ("ami", "nmi", "ari")}}


def evaluate_titles(dataset_dir: str | Path, encoder: Encoder, *, progress: Progress | None = None,
                    **options) -> tuple[dict[str, Evaluation], dict[str, str]]:
    """``evaluate`` on each sub-folder of ``dataset_dir`` (a title: one folder per character inside, as ``reid
    dataset manga109`` writes), each on its own; and the titles left out, with why (fewer than two characters)."""
    dataset_dir = Path(dataset_dir)
    list_images(dataset_dir)  # missing, or not a folder
    titles = [d for d in sorted(dataset_dir.iterdir()) if d.is_dir()]
    results: dict[str, Evaluation] = {}
    left_out: dict[str, str] = {}
    for title in titles:
        try:
            results[title.name] = evaluate(title, encoder, progress=progress, **options)
        except ReidError as exc:
            left_out[title.name] = str(exc)
    if not results:
        raise ReidError(f"{dataset_dir}: no sub-folder is a title with two or more character folders"
                        + (f" ({next(iter(left_out.values()))})" if left_out else ""))
    return results, left_out


def mean_over_titles(results: dict[str, Evaluation]) -> dict[str, float | None]:
    """Each metric's mean over the titles that have it (None where none has)."""
    per_title = [title_metrics(r) for r in results.values()]
    means = {k: [m[k] for m in per_title if m[k] is not None] for k in PER_TITLE_METRICS}
    return {k: float(np.mean(values)) if values else None for k, values in means.items()}
