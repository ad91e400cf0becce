"""Enrollment beyond one machine: reference images embedded on a Ray cluster, the index filled shard by shard.

The references of an enrollment JSON, in a fixed shuffled order, become a Ray Data dataset; a pool of actors
(one GPU each where the cluster has GPUs) reads, decodes and embeds them in batches and writes the vectors
as Parquet shards (``path``, ``character``, ``vector`` as float32 bytes, ``error`` for a file that could not
be read). The driver then trains a compact index (``reid.search.index``) on the first shards, a uniform sample
because the order was shuffled, adds every shard in turn, and calibrates the unknown thresholds on the
references of a sample of characters. No step holds every vector in memory.

Ray is an optional extra (``pip install 'reid[ray]'``); every node needs reid and the encoder's plugin.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Sequence

import numpy as np

from reid.errors import ImageLoadError, ReidError

if TYPE_CHECKING:
    from reid.models.encoders.base import Encoder
    from reid.search.index import ReferenceIndex

SHARD_IMAGES = 2048  # at most, images per Ray Data batch: one Parquet shard each
BATCHES_PER_WORKER = 4  # at least, where the enrollment is large enough
CALIBRATION_CHARACTERS = 200  # as reid.search.open_set samples at most


def require_ray():
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise ReidError("distributed embedding needs Ray: pip install 'reid[ray]'") from None
    return ray


class ShardEmbedder:
    """A Ray actor: the encoder loaded once, then one batch of files after another."""

    def __init__(self, encoder: str, plugin_dirs: Sequence[str], device: str | None, batch_size: int):
        from reid import plugins
        from reid.models.encoders import load_encoder

        plugins.load_plugins(plugin_dirs)
        self.encoder = load_encoder(encoder, device=device, batch_size=batch_size)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from reid.models.contract import embed_checked
        from reid.progress import NoProgress
        from reid.io.images import readable_images

        paths = [Path(p) for p in batch["path"]]
        failures: list[ImageLoadError] = []
        opened = list(readable_images(paths, failures, NoProgress()))
        vectors = embed_checked(self.encoder, [image for _, image in opened])
        row = {str(path): vector.tobytes() for (path, _), vector in zip(opened, vectors)}
        error = {str(f.path): f.reason for f in failures}
        return {"path": batch["path"], "character": batch["character"],
                "vector": np.array([row.get(str(p), b"") for p in paths], dtype=object),
                "error": np.array([error.get(str(p), "") for p in paths], dtype=object)}


def embed_on_ray(pairs: Sequence[tuple[str, Path]], shards: Path, *, encoder: str, plugin_dirs: Sequence[str] = (),
                 address: str | None = None, workers: int = 2, device: str | None = None, batch_size: int = 32,
                 seed: int = 0) -> None:
    """Embed (character, file) ``pairs`` on the Ray cluster at ``address`` (None: a local one) into Parquet
    ``shards``. ``workers`` actors, each with a GPU when the cluster has any."""
    ray = require_ray()
    order = list(pairs)
    random.Random(seed).shuffle(order)  # any prefix of the shards is then a uniform sample to train on
    started_here = not ray.is_initialized()
    if started_here:
        logging.getLogger("ray").setLevel(logging.ERROR)  # the terminal gets reid's lines, Ray's go to its logs
        try:
            ray.init(address=address, num_cpus=None if address else workers, include_dashboard=False,
                     log_to_driver=False, logging_level=logging.ERROR)
        except (ConnectionError, RuntimeError, ValueError) as error:  # ConnectionError is an OSError: not a disk problem
            raise ReidError(f"Ray cluster {address or 'local'}: {_last_line(error)}; start one (`ray start --head`) or pass "
                            "--ray local (nothing was written)") from None
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    logging.getLogger("ray.data").setLevel(logging.ERROR)
    try:
        gpus = 1 if ray.cluster_resources().get("GPU", 0) >= 1 else 0
        items = [{"path": str(path), "character": name} for name, path in order]
        # several batches per actor, so that the last ones to finish keep every actor busy until the end
        batch = max(1, min(SHARD_IMAGES, -(-len(items) // (workers * BATCHES_PER_WORKER))))
        dataset = ray.data.from_items(items, override_num_blocks=-(-len(items) // batch))
        embedded = dataset.map_batches(
            ShardEmbedder, batch_size=batch, compute=ray.data.ActorPoolStrategy(size=workers),
            num_gpus=gpus, num_cpus=0 if gpus else 1,
            fn_constructor_kwargs={"encoder": encoder, "plugin_dirs": [str(p) for p in plugin_dirs],
                                   "device": device or ("cuda" if gpus else None), "batch_size": batch_size})
        try:
            embedded.write_parquet(str(shards))
        except ray.exceptions.RayError as error:
            raise ReidError(f"embedding on Ray failed: {_last_line(error)}; every node needs reid and the encoder's "
                            "plugin (README: Enrolling on a Ray cluster)") from None
    finally:
        if started_here:
            ray.shutdown()


def _last_line(error: Exception) -> str:
    """Ray's errors carry the remote traceback; its last line names the cause."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[-1] if lines else type(error).__name__


@dataclass
class Shard:
    paths: list[str]
    characters: list[str]
    vectors: np.ndarray
    failures: list[ImageLoadError] = field(default_factory=list)


def read_shards(shards: Path, dim: int) -> Iterator[Shard]:
    """The Parquet shards in order, one in memory at a time."""
    import pyarrow.parquet as pq

    files = sorted(Path(shards).glob("*.parquet"))
    if not files:
        raise ReidError(f"{shards}: no Parquet shards; embed the references first")
    for file in files:
        table = pq.read_table(file).to_pydict()
        ok = [i for i, error in enumerate(table["error"]) if not error]
        vectors = np.frombuffer(b"".join(table["vector"][i] for i in ok), dtype=np.float32).reshape(len(ok), dim)
        yield Shard([table["path"][i] for i in ok], [table["character"][i] for i in ok], vectors,
                    [ImageLoadError(p, e) for p, e in zip(table["path"], table["error"]) if e])


def index_from_shards(shards: Path, characters: Sequence[str], dim: int, *, meta: dict,
                      seed: int = 0) -> tuple["ReferenceIndex", list[ImageLoadError]]:
    """A compact index trained on the first shards (the sample), filled shard by shard, its unknown thresholds
    calibrated on every reference of up to ``CALIBRATION_CHARACTERS`` characters."""
    import pyarrow.parquet as pq

    from reid.search.index import TRAIN_SAMPLE, IndexBuilder, IndexKind
    from reid.search.open_set import calibrate
    from reid.search.ranking import Mode

    characters = sorted(set(characters))
    position = {name: i for i, name in enumerate(characters)}
    total = sum(pq.ParquetFile(f).metadata.num_rows for f in Path(shards).glob("*.parquet"))  # without reading them
    sample, taken = [], 0
    for shard in read_shards(shards, dim):
        if taken >= TRAIN_SAMPLE:
            break
        sample.append(shard.vectors[:TRAIN_SAMPLE - taken])
        taken += len(sample[-1])
    if not taken:
        raise ReidError(f"{shards}: no reference could be embedded")
    builder = IndexBuilder(characters, IndexKind.compact, references=total).train(np.concatenate(sample))
    chosen = set(random.Random(seed).sample(characters, min(CALIBRATION_CHARACTERS, len(characters))))
    held_vectors, held_labels, failures = [], [], []
    for shard in read_shards(shards, dim):
        builder.add(shard.vectors, np.array([position[c] for c in shard.characters], dtype=np.int32))
        keep = [i for i, c in enumerate(shard.characters) if c in chosen]
        held_vectors.append(builder.project(shard.vectors[keep]))
        held_labels += [shard.characters[i] for i in keep]
        failures += shard.failures
    index = builder.finish(meta)
    calibration = calibrate(np.concatenate(held_vectors)[:, None], held_labels, [Mode.any, Mode.avg])
    index.meta["open_set"] = {m.value: c.to_json() for m, c in calibration.items()}
    index.meta["skipped"] = [[str(f.path), f.reason] for f in failures]
    return index, failures


def enroll_on_ray(enroll_path: Path, encoder: "Encoder", *, index_path: Path | None = None,
                  address: str | None = None, workers: int = 2,
                  force: bool = False) -> tuple["ReferenceIndex", Path, list[ImageLoadError]]:
    """``reid enroll --ray``: the references embedded on Ray into shards beside the index
    (``ENROLL.<encoder>.shards/``), then the compact index built from them. Outliers are kept: finding them
    needs each character's references together. The index records what ``reid classify --keep-outliers
    --compact`` would have built, so classify uses it as it is."""
    import shutil

    from reid.search.embedding_cache import signature
    from reid.search.enrollment import OUTLIER_KEPT, files_digest, read_enrollment, reference_files
    from reid.io.files import check_output_folder
    from reid.plugins import loaded_plugin_dirs
    from reid.search.enrollment_files import default_index_path, head_path_for, shards_path_for
    from reid.search.index import IndexKind, check_index_output

    pairs = reference_files(read_enrollment(enroll_path))
    index_path = Path(index_path) if index_path else default_index_path(Path(enroll_path), encoder.name)
    check_index_output(index_path, head_path_for(index_path), force=force)
    shards = check_output_folder(shards_path_for(index_path))
    if shards.exists() and any(p.suffix != ".parquet" for p in shards.iterdir()):
        raise ReidError(f"{shards}: holds files reid did not write; move it aside (nothing was written)")
    partial = shards.with_name(shards.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)  # an interrupted run's shards: written by reid, incomplete
    embed_on_ray(pairs, partial, encoder=encoder.name, plugin_dirs=loaded_plugin_dirs(), address=address, workers=workers,
                 device=None if encoder.device.type == "cpu" else str(encoder.device), batch_size=encoder.batch_size)
    shutil.rmtree(shards, ignore_errors=True)
    partial.rename(shards)
    sources = {"encoder_identity": encoder.identity(), "files": files_digest({p: signature(p) for _, p in pairs}),
               "outliers": OUTLIER_KEPT, "index": [IndexKind.compact.value, 0]}
    index, failures = index_from_shards(shards, [name for name, _ in pairs], encoder.embedding_dim,
                                        meta={"encoder": encoder.name, "threshold": encoder.threshold, **sources,
                                              "dropped": [], "small": [], "embedded_on": "ray"})
    index.save(index_path)
    return index, index_path, failures
