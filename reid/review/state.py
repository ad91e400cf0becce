"""The groups after the reviewer's actions: the result's groups, with each standing action applied in order."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from reid.search.enrollment import UNKNOWN, is_reserved
from reid.errors import ReidError
from reid.review.result import NOISE, ReviewResult
from reid.review.store import Action

MAX_NAME = 100
NEW_GROUP = "new"  # the target of a move that makes a group of its own


@dataclass
class Group:
    key: str
    faces: list[int] = field(default_factory=list)
    name: str = ""
    not_character: bool = False

    @property
    def noise(self) -> bool:
        return self.key == NOISE

    @property
    def title(self) -> str:
        if self.noise:
            return "noise (no character)"
        return self.name or self.key.replace("_", " ")

    @property
    def is_character(self) -> bool:
        """Named, and neither noise nor marked as not a character: what an enrollment takes."""
        return bool(self.name) and not self.noise and not self.not_character


class ReviewState:
    def __init__(self, result: ReviewResult, actions: Sequence[Action] = ()):
        self.groups = {key: Group(key, list(faces), result.names.get(key, "")) for key, faces in result.groups.items()}
        self.groups.setdefault(NOISE, Group(NOISE))  # faces can always be moved out
        self.face_count = len(result.faces)
        for action in actions:
            self.apply(action.kind, action.payload)

    def group_of(self, face: int) -> Group:
        return next(g for g in self.groups.values() if face in g.faces)

    def ordered(self) -> list[Group]:
        """Characters and unnamed clusters by size, then those marked not a character, noise last; empty ones
        left out."""
        shown = [g for g in self.groups.values() if g.faces]
        return sorted(shown, key=lambda g: (g.noise, g.not_character, -len(g.faces), g.key))

    def require(self, key: str) -> Group:
        if key not in self.groups or (not self.groups[key].faces and key != NOISE):
            raise ReidError(f"no group {key!r} (it may have been merged away); reload the page")
        return self.groups[key]

    def new_key(self) -> str:
        return self.new_keys(1)[0]

    def new_keys(self, count: int) -> list[str]:
        """``count`` keys no group has: group_new1, group_new2, ... skipping those taken."""
        keys, n = [], 1
        while len(keys) < count:
            if f"group_new{n}" not in self.groups:
                keys.append(f"group_new{n}")
            n += 1
        return keys

    def check(self, kind: str, payload: dict) -> dict:
        """The action made valid for this state (a move to ``new`` gets its group's key), or a ReidError saying
        why it cannot be done; nothing is recorded before this passes."""
        if kind == "name":
            group = self.require(payload["group"])
            if group.noise:
                raise ReidError("noise holds faces of no character and cannot be named; move its faces to a group")
            name = " ".join(str(payload.get("name", "")).split())
            if len(name) > MAX_NAME:
                raise ReidError(f"a name of at most {MAX_NAME} characters, please")
            if is_reserved(name):
                raise ReidError(f"{name!r} would be the folder {UNKNOWN!r}, what classify calls a face that matches "
                                "nobody; choose another name")
            return {"group": group.key, "name": name}
        if kind == "merge":
            into = self.require(payload["into"])
            others = [self.require(k).key for k in payload["groups"] if k != into.key]
            if into.noise or any(k == NOISE for k in others):
                raise ReidError("noise is not a cluster; move its faces instead")
            if not others:
                raise ReidError("choose at least one other cluster to merge into this one")
            return {"into": into.key, "groups": others}
        if kind == "move":
            faces = sorted({int(f) for f in payload["faces"]})
            if not faces:
                raise ReidError("select the faces to move first")
            if any(not 0 <= f < self.face_count for f in faces):
                raise ReidError("no such face; reload the page")
            to = self.new_key() if payload["to"] == NEW_GROUP else self.require(payload["to"]).key
            return {"faces": faces, "to": to}
        if kind == "split":
            group = self.require(payload["group"])
            parts = [sorted({int(f) for f in part}) for part in payload["parts"]]
            if len(parts) < 2 or not all(parts):
                raise ReidError("a split needs at least two parts with faces")
            if sorted(f for part in parts for f in part) != sorted(group.faces):
                raise ReidError(f"{group.title} changed since the split was proposed; look at the proposal again")
            return {"group": group.key, "parts": parts, "into": self.new_keys(len(parts) - 1)}
        if kind == "not_character":
            group = self.require(payload["group"])
            if group.noise:
                raise ReidError("noise is already no character")
            return {"group": group.key, "value": bool(payload["value"])}
        raise ReidError(f"unknown action {kind!r}")

    def apply(self, kind: str, payload: dict) -> None:
        """Apply a checked action. Replaying tolerates what another reviewer's interleaved actions left behind:
        faces or groups that are gone are passed over."""
        if kind == "name" and payload["group"] in self.groups:
            self.groups[payload["group"]].name = payload["name"]
        elif kind == "merge" and payload["into"] in self.groups:
            into = self.groups[payload["into"]]
            for key in payload["groups"]:
                if key in self.groups and key != into.key:
                    other = self.groups.pop(key)
                    into.faces += other.faces
                    into.name = into.name or other.name
        elif kind == "move":
            moving = set(payload["faces"])
            for group in self.groups.values():
                group.faces = [f for f in group.faces if f not in moving]
            target = self.groups.setdefault(payload["to"], Group(payload["to"]))
            target.faces += [f for f in payload["faces"] if 0 <= f < self.face_count]
        elif kind == "split" and payload["group"] in self.groups:
            for part, key in zip(payload["parts"][1:], payload["into"]):
                self.apply("move", {"faces": part, "to": key})
        elif kind == "not_character" and payload["group"] in self.groups:
            self.groups[payload["group"]].not_character = payload["value"]

    def to_json(self) -> dict:
        return {"groups": [{"key": g.key, "name": g.name, "not_character": g.not_character, "noise": g.noise,
                            "faces": g.faces} for g in self.ordered()]}


def describe(action: Action) -> str:
    """One line for the page's history and the undo message."""
    p = action.payload
    if action.kind == "name":
        return f"named {p['group']} {p['name']!r}" if p["name"] else f"removed the name of {p['group']}"
    if action.kind == "merge":
        return f"merged {', '.join(p['groups'])} into {p['into']}"
    if action.kind == "move":
        return f"moved {len(p['faces'])} face{'s' * (len(p['faces']) != 1)} to {p['to']}"
    if action.kind == "split":
        return f"split {p['group']} into {len(p['parts'])} ({', '.join([p['group'], *p['into']])})"
    if action.kind == "not_character":
        return f"marked {p['group']} {'not a character' if p['value'] else 'a character again'}"
    return action.kind
