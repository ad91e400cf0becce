"""A classifier fitted on the enrolled references' embeddings (the transfer-learning recipe "retrain the last layer").

Nearest-reference search treats every embedding dimension alike; a linear head learns which of them
set *these* characters apart. Each reference is embedded in a few views (mild crops, grey, the mirror
when the encoder does not already average it) so that a handful of references still give the head
some spread. scikit-learn's multinomial logistic regression fits it; the weights are stored as plain
arrays (no pickle) beside the faiss index.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps

from reid.errors import ReidError
from reid.io.files import write_atomic

CROP = 0.88  # share of each side a crop keeps: a slightly different framing, never a different face
HEAD_C = 10.0  # inverse L2 strength; 1 and 100 measured within 0.02 of it on the development sets


def reference_views(image: Image.Image, *, mirror: bool) -> list[Image.Image]:
    """The image, two mild crops (top-left and bottom-right), its grey version, and its mirror if ``mirror``."""
    width, height = image.size
    w, h = max(1, round(width * CROP)), max(1, round(height * CROP))
    views = [image, image.crop((0, 0, w, h)), image.crop((width - w, height - h, width, height)),
             ImageOps.grayscale(image).convert("RGB")]
    if mirror:
        views.append(ImageOps.mirror(image))
    return views


def view_names(*, mirror: bool) -> list[str]:
    return ["image", "crop_top_left", "crop_bottom_right", "grey"] + (["mirror"] if mirror else [])


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


class CharacterHead:
    """Multinomial logistic regression over characters, with scikit-learn's conventions
    (``fit`` returns self; ``classes_``, ``predict_proba``). One enrolled character gets probability 1."""

    def __init__(self, C: float = HEAD_C):
        self.C = float(C)

    def fit(self, vectors: np.ndarray, labels: list[str]) -> "CharacterHead":
        from sklearn.linear_model import LogisticRegression

        classes = sorted(set(labels))
        self.classes_ = np.array(classes)
        dim = vectors.shape[1]
        if len(classes) == 1:
            self.coef_, self.intercept_ = np.zeros((1, dim), np.float32), np.zeros(1, np.float32)
            return self
        model = LogisticRegression(C=self.C, max_iter=1000).fit(vectors, labels)
        coef, intercept = model.coef_, model.intercept_
        if len(classes) == 2:  # scikit-learn keeps one row; softmax([-z/2, z/2]) is its sigmoid(z)
            coef, intercept = np.vstack([-coef / 2, coef / 2]), np.r_[-intercept / 2, intercept / 2]
        self.coef_ = np.ascontiguousarray(coef, dtype=np.float32)
        self.intercept_ = np.ascontiguousarray(intercept, dtype=np.float32)
        return self

    def predict_proba(self, vectors: np.ndarray) -> np.ndarray:
        return _softmax(vectors @ self.coef_.T + self.intercept_)

    def save(self, path: Path, meta: dict[str, Any]) -> Path:
        """Atomically, through a temporary file unique to this process (removed on any failure or interrupt)."""
        def write(tmp: Path) -> None:
            with open(tmp, "wb") as f:  # a file object: np.savez would append .npz to a name
                np.savez(f, coef=self.coef_, intercept=self.intercept_, classes=self.classes_.astype(str),
                         C=np.float64(self.C), meta=np.array(json.dumps(meta)))

        return write_atomic(Path(path), write)

    @classmethod
    def load(cls, path: Path) -> tuple["CharacterHead", dict[str, Any]]:
        try:
            with np.load(path, allow_pickle=False) as saved:
                head = cls(float(saved["C"]))
                head.coef_, head.intercept_ = saved["coef"], saved["intercept"]
                head.classes_ = saved["classes"]
                meta = json.loads(str(saved["meta"]))
            if not isinstance(meta, dict) or head.coef_.ndim != 2 or len(head.classes_) != len(head.coef_):
                raise ValueError("its fields do not fit together")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ReidError(f"{path}: unreadable classifier head ({exc}); delete it and run `reid enroll --head` again") from None
        return head, meta
