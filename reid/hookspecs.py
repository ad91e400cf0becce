"""The hooks a reid plugin can implement."""

import pluggy

hookspec = pluggy.HookspecMarker("reid")
hookimpl = pluggy.HookimplMarker("reid")


@hookspec
def register_encoders(register):
    """Register encoders: call ``register(name, factory, description=...)`` for each."""


@hookspec
def register_detectors(register):
    """Register face detectors: call ``register(name, factory, description=...)`` for each."""


@hookspec
def register_clusterers(register):
    """Register clusterers: call ``register(name, factory, description=...)`` for each."""
