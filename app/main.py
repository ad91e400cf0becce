"""``reid``: the Typer application. Commands live one per module in ``commands/`` and call library code.

Commands import the heavy parts of the library (torch, faiss, scikit-learn) inside their function, so that
``reid --help`` and ``reid plugins`` answer without loading them (``tests/test_startup.py``)."""

from __future__ import annotations

import os
import sys
import typing
from pathlib import Path
from typing import Annotated, Optional

import typer
from typer.core import TyperGroup

from reid import __version__, interrupts, plugins
from reid.app.commands import classify, cluster, dataset, detect, enroll, evaluate, review, sample_data, similarity, train, visualize
from reid.app.commands import plugins as plugins_command
from reid.app.output import plugin_warnings_as_lines, warn
from reid.errors import ReidError


def _plain_metavars(command) -> None:
    """Typer shows a flag's value as <bool> and a repeatable option's as <list[Path]>: a flag takes no value, so it
    shows none, and a repeatable option shows what one of its values is."""
    helper = command.get_help_option(command.context_class(command))  # created once and cached by the command
    for param in [*command.params, *([helper] if helper is not None else [])]:
        if getattr(param, "metavar", True) is not None:
            continue
        if getattr(param, "is_flag", False):
            param.metavar = ""
        elif getattr(param, "multiple", False):
            element = (typing.get_args(param.type_descriptor.annotation) or [str])[0]
            param.metavar = "<path>" if element is Path else f"<{getattr(element, '__name__', 'value')}>"
    for sub in getattr(command, "commands", {}).values():
        _plain_metavars(sub)


HELP_ONLY = "reid.help_only"  # ctx.meta key: the command line asks for a help text, nothing runs


class ReidGroup(TyperGroup):
    """Turns a ReidError, or an OSError from the file system (a full disk, a read-only folder), anywhere in a
    command into one ``error:`` line and exit code 1; SIGINT / SIGTERM into one line and exit code 130 / 143."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _plain_metavars(self)

    def invoke(self, ctx):
        rest = [*ctx._protected_args, *ctx.args]  # what follows the group's own options; gone once it runs
        ctx.meta[HELP_ONLY] = "--help" in rest[:rest.index("--")] if "--" in rest else "--help" in rest
        try:
            try:
                with plugin_warnings_as_lines():
                    return super().invoke(ctx)
            except Exception as exc:  # a signal that a C extension turned into another error is still a signal
                behind = interrupts.interrupt_behind(exc)
                if behind is None:
                    raise
                raise behind from None
        except KeyboardInterrupt as exc:  # reid.interrupts makes SIGTERM one too
            stopped = interrupts.as_interrupted(exc)
            typer.echo(f"interrupted ({stopped.name}): outputs already finished are complete, the unfinished ones "
                       "and every temporary file were removed; run the command again", err=True)
            raise typer.Exit(stopped.exit_code) from None
        except ReidError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
        except BrokenPipeError:
            # the reader of our output has gone (`reid ... | head`): not an error of the disk, and nothing to say
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise typer.Exit(141) from None
        except OSError as exc:
            # a failed copy names its source first and its destination second: the full disk is the second's
            where = f"{Path(exc.filename2).parent}: " if exc.filename2 else f"{exc.filename}: " if exc.filename else ""
            typer.echo(f"error: {where}{exc.strerror or exc}; check free space and permissions there, then run "
                       "again (files already written are complete, the rest were not started)", err=True)
            raise typer.Exit(1) from None


app = typer.Typer(cls=ReidGroup, no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help="Re-identify anime and manga characters in folders of images.")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"reid {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    plugin_dir: Annotated[Optional[list[Path]], typer.Option("--plugin-dir", "-p", help=f"Plugin directory to load (repeatable); also ${plugins.PLUGIN_PATH_ENV}.")] = None,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")] = False,
) -> None:
    if ctx.meta.get(HELP_ONLY):  # a command's help needs no plugin, and loading them costs numpy and Pillow
        return
    plugins.load_plugins(plugin_dir or [])
    if ctx.invoked_subcommand != "plugins":  # `reid plugins` shows them in its table
        for info in plugins.broken_plugins():
            warn(f"{info.describe_error()}; fix or remove it (other plugins still work)")


app.command()(similarity.similarity)
app.command()(enroll.enroll)
app.command()(classify.classify)
app.command()(cluster.cluster)
app.command()(evaluate.evaluate)
app.command()(detect.detect)
app.command()(visualize.visualize)
app.command()(review.review)
app.command("plugins")(plugins_command.plugins)
app.command("sample-data")(sample_data.sample_data)
app.add_typer(train.app, name="train")
app.add_typer(dataset.app, name="dataset")
