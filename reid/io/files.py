"""Writing outputs without losing anything: atomic writes, copies that never overwrite."""

from __future__ import annotations

import filecmp
import json
import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

from reid.errors import ReidError

if TYPE_CHECKING:  # Pillow loads when an image is written: `reid --help` needs none of it
    from PIL import Image


class _DuplicateKey(ValueError):
    def __init__(self, key: str):
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise _DuplicateKey(key)
        seen[key] = value
    return seen


def _lines_of_key(text: str, key: str) -> list[int]:
    """The lines where ``key`` is written as an object key (as json.dumps writes it; enough to point at them)."""
    pattern = re.compile(re.escape(json.dumps(key, ensure_ascii=False)) + r"\s*:")
    return [text.count("\n", 0, m.start()) + 1 for m in pattern.finditer(text)]


def read_json(path: Path, *, what: str, error: type[Exception]) -> Any:
    """Parse a JSON file; every way it can fail becomes one ``error`` naming the file. A key given twice in one
    object is refused: JSON parsers keep the last and silently drop the first."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")  # a byte-order mark (Windows editors) is fine
        return json.loads(text, object_pairs_hook=_unique_keys)
    except _DuplicateKey as exc:
        lines = _lines_of_key(text, exc.key)
        where = f" (lines {' and '.join(map(str, lines))})" if len(lines) > 1 else ""
        raise error(f"{path}: the key {exc.key!r} appears twice{where}; keep one of them") from None
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


def _check_folder(folder: Path, output: Path) -> None:
    """``folder`` can be made and written to; errors name ``output``, the path the user gave."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReidError(f"{output}: cannot create {'it' if folder == output else 'its folder'} ({exc.strerror}); "
                        "choose another output path") from None
    if not os.access(folder, os.W_OK):
        raise ReidError(f"{output}: cannot write {'into it' if folder == output else 'there'}; choose another "
                        "output path")


def check_writable(path: Path) -> Path:
    """Fail now, not after a long computation, when the file ``path`` cannot be written."""
    path = Path(path)
    if path.is_dir():
        raise ReidError(f"{path}: is a folder; give a file name")
    _check_folder(path.parent, path)
    return path


def check_output_folder(folder: Path) -> Path:
    """Fail before the work, not after it: ``folder`` can be made and written to."""
    folder = Path(folder)
    _check_folder(folder, folder)
    return folder


def check_outside(output: Path, source: Path, output_option: str, source_option: str) -> None:
    """Refuse an output folder equal to or inside the folder a command reads: its next run would read its own
    output back (``source`` inside ``output`` is fine)."""
    inside = output.resolve() == source.resolve() or output.resolve().is_relative_to(source.resolve())
    if inside:
        raise ReidError(f"{output}: {output_option} is inside {source_option} {source}, so a re-run would read its "
                        f"own output; choose a folder outside it (nothing was written)")


def check_new_folder(folder: Path) -> Path:
    """Fail before the work, not after it: ``folder`` is missing or empty (no earlier result gets mixed in) and
    its parent can be written to, for ``staged_folder`` to rename a finished result into place."""
    folder = Path(folder)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise ReidError(f"{folder}: output folder exists and is not empty; choose a new folder (nothing was written)")
    _check_folder(folder.parent, folder)
    return folder


@contextmanager
def staged_folder(folder: Path) -> Iterator[Path]:
    """A hidden temporary sibling of ``folder`` to fill, renamed to ``folder`` once complete. A failure or an
    interrupt removes it, so a half-written result never sits where the re-run wants to write."""
    folder = check_new_folder(folder)
    staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.", suffix=".partial"))
    try:
        yield staging
        os.chmod(staging, 0o777 & ~_umask())  # mkdtemp's 0700 would make the result private to its writer
    except BaseException as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(exc, OSError):  # name the folder the user asked for, not the hidden one that is gone
            for attr in ("filename", "filename2"):
                name = str(getattr(exc, attr) or "")
                if name.startswith(str(staging)):
                    setattr(exc, attr, str(folder) + name[len(str(staging)):])
        raise
    try:
        os.replace(staging, folder)  # POSIX replaces an empty folder in one step
    except OSError:
        try:
            folder.rmdir()  # Windows cannot rename onto a folder
            os.replace(staging, folder)
        except OSError as exc:  # someone wrote into the folder meanwhile: keep both, lose nothing
            raise ReidError(f"{folder}: cannot be replaced ({exc.strerror or exc}); the complete result is in "
                            f"{staging}") from None


def check_replaceable(path: Path, *, ours: Callable[[Path], bool], force: bool = False, option: str = "path") -> Path:
    """Fail before the work when ``path`` holds a file that reid did not write there (a re-run may replace
    its own output) and the user did not pass --force: reid never overwrites what it was not asked to."""
    path = check_writable(path)
    if path.exists() and not force and not ours(path):
        raise ReidError(f"{path}: a file reid did not write is already there; pass --force to replace it, "
                        f"or choose another {option} (nothing was written)")
    return path


@contextmanager
def folder_lock(folder: Path, *, exclusive: bool) -> Iterator[None]:
    """An advisory lock on a folder (POSIX ``flock`` on the folder itself, so no lock file is left behind) for
    files that must be read or replaced together; where ``flock`` is missing it does nothing."""
    try:
        import fcntl
    except ImportError:  # Windows
        yield
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def write_atomic(path: Path, write: Callable[[Path], None]) -> Path:
    """Write through a temporary file in the same folder, then rename it into place."""
    path = check_writable(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp's 0600 would make outputs private to their writer
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError) and not exc.filename:  # Pillow and others leave the path out
            exc.filename = str(path)
        raise
    return path


def write_text_atomic(path: Path, text: str) -> Path:
    return write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_json_atomic(path: Path, data: Any) -> Path:
    return write_text_atomic(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


#: the PNG text chunk that marks an image as reid's output, so that a re-run may replace it
MADE_BY = ("Software", "reid")


def save_image_atomic(image: "Image.Image", path: Path) -> Path:
    from PIL import PngImagePlugin

    mark = PngImagePlugin.PngInfo()
    mark.add_text(*MADE_BY)
    return write_atomic(path, lambda tmp: image.save(tmp, format="PNG", pnginfo=mark))


def is_reid_png(path: Path) -> bool:
    from PIL import Image

    try:
        with Image.open(path) as image:
            return image.format == "PNG" and image.info.get(MADE_BY[0]) == MADE_BY[1]
    except (OSError, ValueError, Image.DecompressionBombError):
        return False


def copy_without_overwrite(src: Path, dest_dir: Path) -> Path:
    """Copy ``src`` into ``dest_dir``; an existing file of that name is kept and the copy gets a suffix, unless
    it is identical to ``src`` (a re-run into the same folder): then that file is the copy."""
    return copy_or_reuse(src, dest_dir)[0]


def copy_or_reuse(src: Path, dest_dir: Path) -> tuple[Path, bool]:
    """``copy_without_overwrite``, and whether it made a new file (False: an identical one was there)."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    for n in range(10_000):
        earlier = dest_dir / (src.name if n == 0 else f"{src.stem}-{n}{src.suffix}")
        if not earlier.exists():
            break
        if filecmp.cmp(src, earlier, shallow=False):
            return earlier, False
    fd, tmp = tempfile.mkstemp(dir=dest_dir, prefix=".reid-copy.", suffix=".tmp")
    os.close(fd)
    try:
        shutil.copy2(src, tmp)
        for n in range(10_000):
            dest = dest_dir / (src.name if n == 0 else f"{src.stem}-{n}{src.suffix}")
            try:
                os.link(tmp, dest)  # fails if dest exists: no check-then-write race
                return dest, True
            except FileExistsError:
                continue
            except OSError:  # file systems without hard links
                if not dest.exists():
                    os.replace(tmp, dest)
                    return dest, True
        raise FileExistsError(f"{dest_dir}: too many files named like {src.name}")
    finally:
        Path(tmp).unlink(missing_ok=True)


def safe_folder_name(name: str) -> str:
    """A folder name for a character or cluster that cannot escape its parent folder."""
    cleaned = re.sub(r'[\\/:*?"<>|\x00-\x1f]', "_", name).strip().strip(".")
    return cleaned or "_"
