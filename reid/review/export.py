"""What a review turns into: an enrollment (a JSON and a folder of face crops per named character, ready for
``classify``) or a labels CSV (one row per face, for people who label data sets)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

from reid.models.detectors.base import load_face
from reid.errors import ImageLoadError, ReidError
from reid.io.files import (check_new_folder, check_replaceable, check_writable, copy_without_overwrite,
                         safe_folder_name, save_image_atomic, staged_folder, write_json_atomic, write_text_atomic)
from reid.review.result import ReviewResult
from reid.review.state import ReviewState
from reid.search.enrollment import UNKNOWN, folder_clash, is_reserved

LABEL_COLUMNS = ["path", "left", "top", "right", "bottom", "group", "name", "status"]


@dataclass
class Export:
    path: Path
    counts: dict[str, int] = field(default_factory=dict)  # faces written per character, or rows per status
    skipped: list[str] = field(default_factory=list)  # "path: reason" for faces that could not be read

    def summary(self) -> str:
        what = ", ".join(f"{name} {n}" for name, n in self.counts.items())
        skipped = f"; {len(self.skipped)} unreadable faces left out" if self.skipped else ""
        return f"{self.path}: {what}{skipped}"


def export(result: ReviewResult, state: ReviewState, path: str | Path) -> Export:
    path = Path(path)
    if path.suffix.lower() == ".json":
        return export_enrollment(result, state, path)
    if path.suffix.lower() == ".csv":
        return export_labels(result, state, path)
    raise ReidError(f"{path}: export to an enrollment (a .json path) or to labels (a .csv path)")


def characters(state: ReviewState) -> dict[str, list[int]]:
    """Faces per character name; clusters given one name (in any case) are one character. Names that differ but
    would make one folder (``a/b`` and ``a_b``), or the folder of faces that match nobody, are refused."""
    by_name: dict[str, tuple[str, list[int]]] = {}
    for group in state.ordered():
        if group.is_character:
            if is_reserved(group.name):
                raise ReidError(f"cluster {group.key} is named {group.name!r}, which would be the folder {UNKNOWN!r} "
                                "of faces that match nobody; rename it (nothing was written)")
            name, faces = by_name.setdefault(group.name.casefold(), (group.name, []))
            faces += group.faces
    clash = folder_clash(name for name, _ in by_name.values())
    if clash:
        raise ReidError(f"the names {clash[0]!r} and {clash[1]!r} would share the folder {safe_folder_name(clash[1])!r}; "
                        "rename one of those clusters (nothing was written)")
    return dict(by_name.values())


def export_enrollment(result: ReviewResult, state: ReviewState, json_path: Path) -> Export:
    """``json_path`` and, beside it, one new folder of face crops per character; each folder appears complete
    or not at all, and the JSON is written last, so a stopped export leaves no enrollment that looks whole."""
    chosen = characters(state)
    if not chosen:
        raise ReidError("no named cluster to export; name at least one cluster first (nothing was written)")
    if json_path.exists():
        raise ReidError(f"{json_path}: already exists; choose a new path for the enrollment (nothing was written)")
    check_writable(json_path)
    folders = {name: json_path.parent / safe_folder_name(name) for name in chosen}
    for folder in folders.values():
        check_new_folder(folder)
    done = Export(json_path)
    enrollment = {}
    for name, faces in chosen.items():
        with staged_folder(folders[name]) as staging:
            for i in faces:
                face = result.faces[i]
                try:
                    if face.box is None:
                        copy_without_overwrite(face.path, staging)
                    else:
                        save_image_atomic(load_face(face.path, face.box, result.margin),
                                          staging / f"{face.path.stem}_face{i}.png")
                except ImageLoadError as exc:
                    done.skipped.append(f"{exc.path}: {exc.reason}")
                except FileNotFoundError:
                    done.skipped.append(f"{face.path}: missing")
                else:
                    done.counts[name] = done.counts.get(name, 0) + 1
        if done.counts.get(name):
            enrollment[name] = folders[name].name
    if not enrollment:
        raise ReidError(f"no face of the named clusters could be read ({'; '.join(done.skipped[:3])}); nothing "
                        "to enroll")
    write_json_atomic(json_path, enrollment)
    return done


def _is_labels(path: Path) -> bool:
    try:
        with open(path, encoding="utf-8", newline="") as f:
            return next(csv.reader(f), None) == LABEL_COLUMNS
    except (OSError, UnicodeDecodeError):
        return False


def export_labels(result: ReviewResult, state: ReviewState, csv_path: Path) -> Export:
    """One row per face: its image, box (empty for a whole image), group, name and status (character,
    unnamed, not_character or noise). An earlier labels export at ``csv_path`` is replaced."""
    check_replaceable(csv_path, ours=_is_labels, option="--export path")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(LABEL_COLUMNS)
    done = Export(csv_path)
    for group in state.ordered():
        status = ("noise" if group.noise else "not_character" if group.not_character
                  else "character" if group.name else "unnamed")
        done.counts[status] = done.counts.get(status, 0) + len(group.faces)
        for i in sorted(group.faces):
            face = result.faces[i]
            box = face.box.to_json() if face.box else ["", "", "", ""]
            writer.writerow([str(face.path), *box, group.key, group.name, status])
    write_text_atomic(csv_path, out.getvalue())
    return done
