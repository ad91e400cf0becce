"""The plugin manager: built-ins, then installed packages (entry points), then plugin directories.

A plugin that fails to import, implements an unknown hook or raises while registering is
recorded with its location and cause (like pytest's ConftestImportFailure) and left out; the
other plugins keep working.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib
import importlib.metadata
import importlib.util
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import pluggy

from reid import hookspecs
from reid.errors import PluginError, cause
from reid.interrupts import Interrupted
from reid.registry import Registry

ENTRY_POINT_GROUP = "reid"
PLUGIN_PATH_ENV = "REID_PLUGIN_PATH"
PLUGIN_FILE = "plugin.py"
# a plugin that calls sys.exit() or raises KeyboardInterrupt while loading is broken, not a reason to end reid
# (a real Ctrl-C arrives as reid.interrupts.Interrupted, which is re-raised)
IMPORT_FAILURES = (Exception, SystemExit, KeyboardInterrupt)
KINDS = ("encoders", "detectors", "clusterers")
BUILTIN_MODULES = ("reid.models.encoders.builtin", "reid.models.detectors.builtin", "reid.models.clusterers.builtin")
SHIPPED_PACKAGE = "reid.shipped_plugins"


def _shipped_plugins_folder() -> Path | None:
    """Where the plugin directories shipped with reid are: the folder of the ``reid.shipped_plugins`` package
    (``plugins/`` in a checkout), found through the import system and never a generic folder of site-packages
    that any other package could fill."""
    try:
        spec = importlib.util.find_spec(SHIPPED_PACKAGE)
    except ImportError:
        return None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    return Path(locations[0]).resolve() if locations else None


SHIPPED_PLUGINS = _shipped_plugins_folder()

pm = pluggy.PluginManager("reid")
pm.add_hookspecs(hookspecs)


@dataclass
class PluginInfo:
    name: str
    source: str  # "builtin", "entrypoint" or "directory"
    location: str
    registers: dict[str, list[str]] = field(default_factory=dict)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def describe_error(self) -> str:
        return f"plugin {self.name!r} ({self.location}) is broken: {self.error}"


@dataclass
class _State:
    base_loaded: bool = False
    plugins: dict[str, PluginInfo] = field(default_factory=dict)
    loaded_dirs: set[Path] = field(default_factory=set)
    registries: dict[str, Registry] = field(default_factory=dict)


_state = _State()


def reset() -> None:
    """Forget every plugin (tests use this to start from a clean slate)."""
    global _state
    for plugin in list(pm.get_plugins()):
        pm.unregister(plugin)
    _state = _State()


def load_plugins(plugin_dirs: Iterable[str | os.PathLike] = ()) -> list[PluginInfo]:
    """Load built-ins and entry points once, then every plugin directory not loaded yet."""
    if not _state.base_loaded:
        _state.base_loaded = True
        for module_name in BUILTIN_MODULES:
            _register(importlib.import_module(module_name), module_name, "builtin", module_name)
        _load_entry_points()
    for directory in _plugin_dir_candidates(plugin_dirs):
        _load_plugin_dir(directory)
    return list(_state.plugins.values())


def plugins() -> list[PluginInfo]:
    """Every plugin seen so far, the broken ones included, with what each registers."""
    load_plugins()
    for kind in KINDS:
        registry(kind)
    return list(_state.plugins.values())


def loaded_plugin_dirs() -> list[str]:
    """The plugin directories loaded so far, for processes that must load the same plugins (Ray workers)."""
    return [str(Path(info.location).parent) for info in _state.plugins.values()
            if info.source == "directory" and info.ok and Path(info.location).parent != SHIPPED_PLUGINS]


def broken_plugins() -> list[PluginInfo]:
    return [info for info in plugins() if not info.ok]


def registry(kind: str) -> Registry:
    """The registry of one kind ("encoders", "detectors", "clusterers"), filled by the hooks."""
    if kind not in KINDS:
        raise ValueError(f"unknown registry {kind!r}; valid: {', '.join(KINDS)}")
    load_plugins()
    if kind not in _state.registries:
        _state.registries[kind] = _collect(kind)
    return _state.registries[kind]


def _collect(kind: str) -> Registry:
    reg: Registry = Registry(kind.rstrip("s"))
    caller = getattr(pm.hook, f"register_{kind}")
    # get_hookimpls() is in registration order: built-ins claim their names first.
    for impl in caller.get_hookimpls():
        info = _state.plugins[impl.plugin_name]
        staged: Registry = Registry(reg.kind)

        def register(name, factory, *, description: str = "", _staged=staged, _plugin=impl.plugin_name):
            _staged.register(name, factory, description=description, plugin=_plugin)

        try:
            impl.function(register)
            clashes = [name for name in staged.entries if name in reg.entries]
            if clashes:
                raise PluginError(f"{reg.kind} {clashes[0]!r} is already registered by {reg.entries[clashes[0]].plugin}")
        except IMPORT_FAILURES as exc:  # a plugin's bug must not take the tool down
            if isinstance(exc, Interrupted):
                raise
            info.error = f"register_{kind} failed: {cause(exc)}"
            continue
        reg.entries.update(staged.entries)
        info.registers[kind] = sorted(staged.entries)
    return reg


def _register(obj: object, name: str, source: str, location: str) -> None:
    info = PluginInfo(name=name, source=source, location=location)
    if name in _state.plugins:
        info.name = f"{name} ({location})"
        info.error = f"another plugin is already called {name!r} ({_state.plugins[name].location}); rename one"
        _state.plugins[info.name] = info
        return
    _state.plugins[name] = info
    try:
        pm.register(obj, name=name)
    except Exception as exc:
        info.error = cause(exc)
        return
    unknown = [hc.name for hc in pm.get_hookcallers(obj) or [] if hc.spec is None]
    if unknown:
        pm.unregister(obj)
        info.error = "; ".join(_unknown_hook_message(hook) for hook in unknown)
    elif not pm.get_hookcallers(obj):
        pm.unregister(obj)
        info.error = "implements no reid hook (decorate register_* functions with @reid.hookimpl)"
    _state.registries.clear()


def _unknown_hook_message(hook: str) -> str:
    known = [f"register_{kind}" for kind in KINDS]
    close = difflib.get_close_matches(hook, known, n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"known hooks: {', '.join(known)}"
    return f"unknown hook {hook!r} ({hint})"


def _load_entry_points() -> None:
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = getattr(ep, "dist", None)
        location = f"{ep.value} (package {dist.name})" if dist else ep.value
        try:
            obj = ep.load()
        except IMPORT_FAILURES as exc:
            if isinstance(exc, Interrupted):
                raise
            _state.plugins[ep.name] = PluginInfo(ep.name, "entrypoint", location, error=cause(exc))
            continue
        _register(obj, ep.name, "entrypoint", location)


def _plugin_dir_candidates(extra: Iterable[str | os.PathLike]) -> list[Path]:
    """Shipped plugins, then $REID_PLUGIN_PATH, then the given directories; a folder of plugin folders expands."""
    roots: list[Path] = []
    if SHIPPED_PLUGINS is not None and SHIPPED_PLUGINS.is_dir():
        roots.append(SHIPPED_PLUGINS)
    roots += [Path(p) for p in os.environ.get(PLUGIN_PATH_ENV, "").split(os.pathsep) if p]
    roots += [Path(p) for p in extra]
    found: list[Path] = []
    for root in roots:
        root = root.expanduser().resolve()
        is_parent = root.is_dir() and not (root / PLUGIN_FILE).exists()
        children = sorted(d for d in root.iterdir() if (d / PLUGIN_FILE).is_file()) if is_parent else []
        if children:
            found += children
        elif root != SHIPPED_PLUGINS:  # a bad user-given path is reported, not skipped
            found.append(root)
    return found


def _load_plugin_dir(directory: Path) -> None:
    if directory in _state.loaded_dirs:
        return
    _state.loaded_dirs.add(directory)
    name = directory.name
    plugin_file = directory / PLUGIN_FILE
    if not directory.exists():
        _record_failure(name, str(directory), "plugin directory does not exist; check --plugin-dir / $REID_PLUGIN_PATH")
        return
    if not plugin_file.is_file():
        _record_failure(name, str(directory), f"no {PLUGIN_FILE} in this folder (a plugin directory holds {PLUGIN_FILE}, its config and its weights)")
        return
    module_name = "reid_plugin_" + re.sub(r"\W", "_", name) + "_" + hashlib.sha1(str(directory).encode()).hexdigest()[:8]
    try:
        spec = importlib.util.spec_from_file_location(module_name, plugin_file)
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
    except IMPORT_FAILURES as exc:
        sys.modules.pop(module_name, None)
        if isinstance(exc, Interrupted):
            raise
        _record_failure(name, str(plugin_file), cause(exc))
        return
    _register(module, name, "directory", str(plugin_file))


def _record_failure(name: str, location: str, error: str) -> None:
    key = name if name not in _state.plugins else f"{name} ({location})"
    _state.plugins[key] = PluginInfo(key, "directory", location, error=error)
