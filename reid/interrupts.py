"""SIGINT and SIGTERM end a command the same way: an exception that unwinds everything in progress.

Every writer in reid goes through a temporary name that is removed when an exception passes (``reid.io.files``),
so unwinding leaves finished outputs complete, unfinished ones absent, and no temporary file behind.
"""

from __future__ import annotations

import os
import signal
import sys
import threading

_received: list[int] = []  # the signals that have arrived


class Interrupted(KeyboardInterrupt):
    """A signal asked reid to stop; the command ends with 128 + the signal's number (130 for SIGINT, 143 for SIGTERM)."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum
        self.name = signal.Signals(signum).name
        self.exit_code = 128 + signum


def _raise(signum: int, frame) -> None:
    _received.append(signum)
    raise Interrupted(signum)


def _deliver_again(signum: int) -> None:
    # from another thread, a moment later: the main thread has left the hook by then and takes the signal in
    # ordinary code, where the exception propagates
    timer = threading.Timer(0.01, os.kill, (os.getpid(), signum))
    timer.daemon = True
    timer.start()


def _unraisable(report) -> None:
    try:
        if not _received:
            sys.__unraisablehook__(report)
        elif isinstance(report.exc_value, Interrupted):
            # the handler ran where Python cannot propagate an exception (a __del__, a callback from C, as in
            # numba and llvmlite): Python would print it and carry on
            _deliver_again(report.exc_value.signum)
        # anything else after a signal comes from objects the interruption left half-built: noise, as reid exits
    except Interrupted as again:  # a signal that lands in this hook is not lost either
        _deliver_again(again.signum)


def install() -> None:
    """Turn SIGINT and SIGTERM into ``Interrupted`` (SIGTERM would otherwise kill the process with no cleanup)."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _raise)
    sys.unraisablehook = _unraisable


class stops_normally:
    """While a server runs, SIGINT and SIGTERM are how it is meant to end: each one calls ``stop`` (which asks the
    server to shut down) instead of unwinding, also before the server has put in handlers of its own and after
    it hands the signal back on its way out."""

    def __init__(self, stop):
        self.stop = stop

    def __enter__(self) -> "stops_normally":
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self._stop)
        return self

    def _stop(self, signum: int, frame) -> None:
        self.stop()

    def __exit__(self, *exc) -> None:
        install()


def ignore() -> None:
    """The command has ended: a signal during the interpreter's teardown changes nothing."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN)


def as_interrupted(exc: KeyboardInterrupt) -> Interrupted:
    """A plain KeyboardInterrupt (raised before ``install``, or by Python itself) is a SIGINT."""
    return exc if isinstance(exc, Interrupted) else Interrupted(signal.SIGINT)


def interrupt_behind(exc: BaseException) -> Interrupted | None:
    """The signal behind ``exc``, when a C extension turned it into another error (a module whose initialisation
    was interrupted raises ImportError "initialization failed", caused by the interrupt)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return as_interrupted(exc)
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None
