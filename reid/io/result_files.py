"""The files a result folder holds besides its copies, read back by ``reid review``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from reid.io.files import write_atomic

CLUSTERS_JSON = "clusters.json"  # written by ``cluster --result-dir``
CLASSIFICATION_JSON = "classification.json"  # written by ``classify --result-dir``
EMBEDDINGS = "embeddings.npy"  # one row per face, in the order the JSON lists them


def save_embeddings(path: Path, vectors: np.ndarray) -> Path:
    """float16: half the disk, and cosine scores stay within 1e-3 of float32's."""
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.save(f, np.ascontiguousarray(vectors, dtype=np.float16))
    return write_atomic(Path(path), write)
