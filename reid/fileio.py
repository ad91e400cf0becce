"""Writing outputs without losing anything: atomic writes, copies that never overwrite."""

from __future__ import annotations

import filecmp
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable

from PIL import Image

from reid.errors import ReidError


def read_json(path: Path, *, what: str, error: type[Exception]) -> Any:
    """Parse a JSON file; every way it can fail becomes one ``error`` naming the file."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))  # a byte-order mark (Windows editors) is fine
    except FileNotFoundError:
        raise error(f"{path}: {what} not found") from None
    except IsADirectoryError:
        raise error(f"{path}: is a folder; pass the {what}") from None
    except UnicodeDecodeError:
        raise error(f"{path}: not a text file; pass the {what}") from None
    except json.JSONDecodeError as exc:
        raise error(f"{path}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_writable(path: Path) -> Path:
    """Fail now, not after a long computation, when ``path``'s folder cannot be made or written to."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReidError(f"{path}: cannot create its folder ({exc.strerror}); choose another output path") from None
    if not os.access(path.parent, os.W_OK) or path.is_dir():
        raise ReidError(f"{path}: cannot write here; choose another output path")
    return path


def check_output_folder(folder: Path, *, empty: bool = False) -> Path:
    """Fail before the work, not after it: ``folder`` can be made and written to (and, when ``empty``, holds
    nothing yet, so that no earlier result gets mixed in)."""
    folder = Path(folder)
    if empty and folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise ReidError(f"{folder}: output folder exists and is not empty; choose a new folder (nothing was written)")
    check_writable(folder / ".reid-probe")
    return folder


def write_atomic(path: Path, write: Callable[[Path], None]) -> Path:
    """Write through a temporary file in the same folder, then rename it into place."""
    path = check_writable(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp's 0600 would make outputs private to their writer
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_text_atomic(path: Path, text: str) -> Path:
    return write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_json_atomic(path: Path, data: Any) -> Path:
    return write_text_atomic(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def save_image_atomic(image: Image.Image, path: Path) -> Path:
    return write_atomic(path, lambda tmp: image.save(tmp, format="PNG"))


def copy_without_overwrite(src: Path, dest_dir: Path) -> Path:
    """Copy ``src`` into ``dest_dir``; an existing file of that name is kept and the copy gets a suffix, unless
    it is identical to ``src`` (a re-run into the same folder): then that file is the copy."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    for n in range(10_000):
        earlier = dest_dir / (src.name if n == 0 else f"{src.stem}-{n}{src.suffix}")
        if not earlier.exists():
            break
        if filecmp.cmp(src, earlier, shallow=False):
            return earlier
    fd, tmp = tempfile.mkstemp(dir=dest_dir, prefix=".reid-copy.", suffix=".tmp")
    os.close(fd)
    try:
        shutil.copy2(src, tmp)
        for n in range(10_000):
            dest = dest_dir / (src.name if n == 0 else f"{src.stem}-{n}{src.suffix}")
            try:
                os.link(tmp, dest)  # fails if dest exists: no check-then-write race
                return dest
            except FileExistsError:
                continue
            except OSError:  # file systems without hard links
                if not dest.exists():
                    os.replace(tmp, dest)
                    return dest
        raise FileExistsError(f"{dest_dir}: too many files named like {src.name}")
    finally:
        Path(tmp).unlink(missing_ok=True)


def safe_folder_name(name: str) -> str:
    """A folder name for a character or cluster that cannot escape its parent folder."""
    cleaned = re.sub(r'[\\/:*?"<>|\x00-\x1f]', "_", name).strip().strip(".")
    return cleaned or "_"
