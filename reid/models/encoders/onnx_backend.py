"""ONNX Runtime for a trained encoder's network on the CPU: exported once, checked against torch, cached.

The default on the CPU (``$REID_BACKEND=auto``; ``torch`` never tries it, ``onnx`` insists on it):
``benchmarks/speed_table.py`` measured the network alone 2.1x and the whole embedding 1.7x as fast as torch with
folded batch norm and channels-last, on 2 cores. The export is kept in the user's cache folder
(``$REID_CACHE_DIR``, else ``$XDG_CACHE_HOME/reid/onnx`` or ``~/.cache/reid/onnx``), keyed by the weights' hash and
the torch and opset versions, and used only when its outputs equal torch's to ``TOLERANCE`` on a test batch."""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path

import numpy as np
import torch

from reid.io.files import write_atomic, write_text_atomic

BACKEND_ENV = "REID_BACKEND"  # auto (default: onnx where it is installed and passes its check, else torch), torch, onnx
CACHE_ENV = "REID_CACHE_DIR"
OPSET = 17
TOLERANCE = 1e-4  # largest difference allowed between torch's and ONNX Runtime's features
BACKENDS = ("auto", "torch", "onnx")


def backend_choice() -> str:
    choice = os.environ.get(BACKEND_ENV, "auto").strip().lower() or "auto"
    if choice not in BACKENDS:
        from reid.errors import ReidError

        raise ReidError(f"${BACKEND_ENV}={choice!r}: choose one of {', '.join(BACKENDS)}")
    return choice


def user_cache() -> Path:
    base = os.environ.get(CACHE_ENV) or os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / ("" if os.environ.get(CACHE_ENV) else "reid") / "onnx"


def _key(weights: Path, input_size: int, extra: str) -> str:
    digest = hashlib.sha256(weights.read_bytes())
    digest.update(json.dumps([input_size, extra, torch.__version__, OPSET]).encode())
    return digest.hexdigest()[:16]


def _cache_file(weights: Path, key: str) -> Path:
    """In the user's cache, never beside the weights: a plugin directory may be installed, shared or the source tree."""
    return user_cache() / f"{weights.stem}.{key}.onnx"


class OnnxNetwork:
    """The exported network: N x 3 x S x S float32 in, N x D float32 out."""

    def __init__(self, path: Path):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()
        options.log_severity_level = 3
        # no busy-waiting between calls: the rest of the pipeline (decoding, resizing) needs those cores
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.path = path
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.input = self.session.get_inputs()[0].name

    def __call__(self, pixels: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input: np.ascontiguousarray(pixels, dtype=np.float32)})[0]


def onnx_network(module: torch.nn.Module, weights: Path, input_size: int, *, extra: str = "") -> tuple[OnnxNetwork | None, str]:
    """The module as an ONNX Runtime network, or None and why not (onnxruntime missing, the export failed, or its
    outputs differ from torch's)."""
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return None, "onnxruntime is not installed: pip install onnx onnxruntime"
    weights = Path(weights)
    path = _cache_file(weights, _key(weights, input_size, extra))
    if path.exists():
        try:
            return OnnxNetwork(path), ""
        except Exception:  # damaged or from another onnxruntime: export again
            path.unlink(missing_ok=True)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        sample = torch.randn(4, 3, input_size, input_size, generator=torch.Generator().manual_seed(0))

        def export(tmp: Path) -> None:
            with warnings.catch_warnings(), torch.no_grad():
                warnings.simplefilter("ignore")  # the exporter's deprecation and tracer notes
                torch.onnx.export(module.eval(), sample[:1], str(tmp), input_names=["pixels"],
                                  output_names=["features"], opset_version=OPSET, dynamo=False,
                                  dynamic_axes={"pixels": {0: "n"}, "features": {0: "n"}})
            with torch.no_grad():
                expected = module(sample).float().flatten(1).numpy()
            got = OnnxNetwork(tmp)(sample.numpy()).reshape(len(sample), -1)
            difference = float(np.abs(got - expected).max())
            if not difference <= TOLERANCE:
                raise ValueError(f"its features differ from torch's by {difference:.2g}")

        write_atomic(path, export)
        write_text_atomic(path.with_name(path.name + ".json"), json.dumps({"weights": weights.name, "torch": torch.__version__,
                                                                 "opset": OPSET, "tolerance": TOLERANCE}) + "\n")
        return OnnxNetwork(path), ""
    except Exception as exc:  # any exporter or runtime failure: torch still works
        return None, f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
