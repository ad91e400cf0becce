"""Name -> factory registries, filled by the plugins' ``register_*`` hooks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Generic, TypeVar

from reid.errors import PluginError, UnknownNameError

T = TypeVar("T")


@dataclass(frozen=True)
class Entry(Generic[T]):
    name: str
    factory: Callable[..., T]
    description: str = ""
    plugin: str = ""


@dataclass
class Registry(Generic[T]):
    kind: str
    entries: dict[str, Entry[T]] = field(default_factory=dict)

    def register(self, name: str, factory: Callable[..., T], *, description: str = "", plugin: str = "") -> None:
        if not isinstance(name, str) or not name:
            raise PluginError(f"{self.kind} name must be a non-empty string, got {name!r}")
        if not callable(factory):
            raise PluginError(f"{self.kind} {name!r}: factory {factory!r} is not callable")
        if name in self.entries:
            other = self.entries[name].plugin
            raise PluginError(f"{self.kind} {name!r} is already registered by {other}")
        self.entries[name] = Entry(name, factory, description, plugin)

    def names(self) -> list[str]:
        return sorted(self.entries)

    def entry(self, name: str) -> Entry[T]:
        try:
            return self.entries[name]
        except KeyError:
            raise UnknownNameError(self.kind, name, self.names()) from None

    def create(self, name: str, **kwargs: Any) -> T:
        return self.entry(name).factory(**kwargs)
