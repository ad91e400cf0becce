"""One review of one result folder: the result, its decision store, and the pictures the page shows."""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from pathlib import Path

from PIL import Image, ImageDraw

from reid.models.detectors.base import load_face
from reid.errors import ImageLoadError, ReidError
from reid.io.images import load_image
from reid.review.export import Export, export
from reid.review.result import ReviewResult, load_result
from reid.review.state import ReviewState, describe
from reid.review.store import DB_NAME, Action, DecisionStore

THUMB = 112  # pixels, the long side of a face on the page
SOURCE_SIDE = 1600  # the source image is sent at most this large
CACHED_THUMBS = 8192  # about 40 MB of JPEG


class Review:
    def __init__(self, result_dir: str | Path, db: str | Path | None = None):
        self.result: ReviewResult = load_result(result_dir)
        self.store = DecisionStore(Path(db) if db is not None else self.result.folder / DB_NAME,
                                   self.result.fingerprint)
        self._thumbs: OrderedDict[int, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def state(self) -> ReviewState:
        # replayed on every request: another server on the same database, or a killed one, stays in step
        return ReviewState(self.result, self.store.actions())

    def act(self, kind: str, payload: dict) -> str:
        """Check, record and describe one action."""
        try:
            checked = self.state().check(kind, payload)
        except (KeyError, TypeError, ValueError) as exc:
            raise ReidError(f"incomplete {kind!r} action ({type(exc).__name__}: {exc})") from None
        action_id = self.store.record(kind, checked)
        return describe(Action(action_id, kind, checked, ""))

    def undo(self) -> str:
        undone = self.store.undo()
        return f"undid: {describe(undone)}" if undone is not None else "nothing to undo"

    def export(self, path: str | Path) -> Export:
        return export(self.result, self.state(), path)

    def export_path(self) -> Path:
        """Where the page offers to export: ``enrollment/enroll.json`` in the result folder, or the first free
        ``enrollment-N``."""
        n = 1
        while (folder := self.result.folder / ("enrollment" if n == 1 else f"enrollment-{n}")).exists():
            n += 1
        return folder / "enroll.json"

    def history(self, limit: int = 20) -> list[tuple[Action, str]]:
        return [(a, describe(a)) for a in self.store.actions(include_undone=True)[::-1][:limit]]

    def face(self, face_id: int):
        if not 0 <= face_id < len(self.result.faces):
            raise ReidError(f"no face {face_id} in this result")
        return self.result.faces[face_id]

    def thumbnail(self, face_id: int) -> bytes:
        """The face cut from its image as JPEG; a drawn placeholder that says why when the image cannot be read."""
        with self._lock:
            if face_id in self._thumbs:
                self._thumbs.move_to_end(face_id)
                return self._thumbs[face_id]
        face = self.face(face_id)
        try:
            image = load_face(face.path, face.box, self.result.margin)
        except ImageLoadError as exc:
            image = placeholder(exc.reason)
        image.thumbnail((THUMB, THUMB))
        data = jpeg(image)
        with self._lock:
            self._thumbs[face_id] = data
            while len(self._thumbs) > CACHED_THUMBS:
                self._thumbs.popitem(last=False)
        return data

    def source(self, face_id: int) -> tuple[bytes, tuple[int, int] | None]:
        """The face's whole image (at most SOURCE_SIDE) as JPEG and its full size; a placeholder and None when
        it cannot be read."""
        try:
            image = load_image(self.face(face_id).path)
        except ImageLoadError as exc:
            return jpeg(placeholder(exc.reason, 320)), None
        size = image.size
        image.thumbnail((SOURCE_SIDE, SOURCE_SIDE))
        return jpeg(image), size


def placeholder(reason: str, side: int = THUMB) -> Image.Image:
    image = Image.new("RGB", (side, side), (235, 225, 225))
    draw = ImageDraw.Draw(image)
    draw.line([(0, 0), (side, side)], fill=(200, 80, 80), width=2)
    draw.text((6, side // 2 - 6), reason[:side // 6], fill=(120, 0, 0))
    return image


def jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.convert("RGB").save(out, format="JPEG", quality=88)
    return out.getvalue()
