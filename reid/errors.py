"""Errors that reach the user as one line: what went wrong, where, and what to do."""


class ReidError(Exception):
    """A problem with the user's input or setup; the CLI prints it without a traceback."""


class ImageLoadError(ReidError):
    def __init__(self, path, reason: str):
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")


class UnknownNameError(ReidError, KeyError):
    def __init__(self, kind: str, name: str, valid: list[str]):
        self.kind, self.name, self.valid = kind, name, valid
        listed = ", ".join(valid) if valid else "none registered"
        super().__init__(f"unknown {kind} {name!r}; valid {kind}s: {listed}")

    def __str__(self) -> str:  # KeyError would repr() the message
        return self.args[0]


class PluginError(ReidError):
    """A plugin that cannot be used: raised inside a plugin, recorded by the plugin manager."""


class PluginWarning(UserWarning):
    """Something a plugin returned that reid corrected and went on with; the CLI prints it as a warning line."""


def cause(exc: BaseException) -> str:
    """An exception as one line: its type and its message's first line (library messages can run to pages)."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0].strip()}" if lines else type(exc).__name__
