"""Face crops from Manga109 (its XML annotations, read by ``manga109api``), laid out for ``evaluate``: one folder per
title, in it one folder per character with at least ``min_faces`` faces in that title, and ``other`` for the
rest (the usual per-title protocol for Manga109)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from reid.models.detectors.base import Box, crop
from reid.progress import NoProgress, Progress
from reid.errors import ImageLoadError, ReidError
from reid.io.files import safe_folder_name, save_image_atomic, staged_folder, write_json_atomic
from reid.io.images import load_image

OTHER = "other"
MIN_FACES = 10


@dataclass
class Manga109Faces:
    titles: dict[str, dict[str, int]] = field(default_factory=dict)  # title -> folder -> faces
    skipped: list[str] = field(default_factory=list)  # "page: reason"

    def to_json(self) -> dict:
        return {"titles": self.titles, "faces": sum(sum(t.values()) for t in self.titles.values()),
                "skipped": self.skipped}


def read_titles(path: Path) -> list[str]:
    """One title a line (split files such as finetune.txt / eval.txt); blank lines and ``#`` comments are ignored."""
    try:
        lines = Path(path).read_text(encoding="utf-8-sig").splitlines()
    except OSError as exc:
        raise ReidError(f"{path}: cannot read the titles file ({exc.strerror})") from None
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def _parser(root: Path):
    import manga109api

    if not (Path(root) / "books.txt").is_file():
        raise ReidError(f"{root}: not a Manga109 folder (no books.txt); pass the folder holding books.txt, "
                        "annotations/ and images/")
    return manga109api.Parser(root_dir=str(root))


def cut_faces(root: Path, out: Path, *, titles: list[str] | None = None, min_faces: int = MIN_FACES,
              margin: float = 0.0, progress: Progress | None = None) -> Manga109Faces:
    """``out/<title>/<character>/p<page>_<face id>.png`` (grey, as the pages are) and ``manga109.json``; ``out``
    (new or empty) appears complete or not at all."""
    parser = _parser(root)
    chosen = titles if titles is not None else parser.books
    unknown = [t for t in chosen if t not in parser.books]
    if unknown:
        raise ReidError(f"{root}: no title {', '.join(map(repr, unknown[:5]))} in books.txt (it lists "
                        f"{len(parser.books)}: {', '.join(parser.books[:5])}{' ...' if len(parser.books) > 5 else ''})")
    progress = progress or NoProgress()
    result = Manga109Faces()
    with staged_folder(out) as staging:
        for title in chosen:
            try:
                annotation = parser.get_annotation(book=title)
            except (OSError, SyntaxError) as exc:  # ElementTree's ParseError is a SyntaxError
                raise ReidError(f"{root}/annotations/{title}.xml: unreadable ({exc}); re-extract Manga109") from None
            names = {str(c["@id"]): str(c.get("@name", c["@id"])) for c in annotation["character"]}
            faces = [(page, face) for page in annotation["page"] for face in page.get("face", [])]
            counts = Counter(str(face.get("@character")) for _, face in faces)
            folder_of = {cid: safe_folder_name(names.get(cid, cid)) if n >= min_faces else OTHER
                         for cid, n in counts.items()}
            kept: Counter = Counter()
            progress.start(len(annotation["page"]), f"cutting faces: {title}")
            for page in annotation["page"]:
                boxes = page.get("face", [])
                if boxes:
                    path = Path(parser.img_path(book=title, index=int(page["@index"])))
                    try:
                        image = load_image(path)
                    except ImageLoadError as exc:
                        result.skipped.append(f"{exc.path}: {exc.reason}")
                        progress.advance(1)
                        continue
                    for face in boxes:
                        box = Box(int(face["@xmin"]), int(face["@ymin"]), int(face["@xmax"]), int(face["@ymax"]))
                        if box.area == 0:
                            continue
                        folder = folder_of[str(face.get("@character"))]
                        name = f"p{int(page['@index']):03d}_{face['@id']}.png"
                        save_image_atomic(crop(image, box, margin).convert("L"),
                                          staging / safe_folder_name(title) / folder / name)
                        kept[folder] += 1
                progress.advance(1)
            result.titles[title] = dict(kept.most_common())
        write_json_atomic(staging / "manga109.json", result.to_json())
    return result
