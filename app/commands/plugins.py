from __future__ import annotations

from typing import Annotated

import typer

from reid import plugins as plugin_manager
from reid.app.options import JsonOpt
from reid.app.output import console, print_json, table
from reid.errors import ReidError, cause


def _check(registers: dict[str, list[str]], source: str) -> str | None:
    """Build every encoder a plugin registers, and the detectors of plugins that are not built in (so their weights
    load); the first failure. Built-in detectors are not built: lbp_cascade needs a file only the command line
    gives (--cascade)."""
    for kind in ("encoders",) if source == "builtin" else ("encoders", "detectors"):
        for name in registers.get(kind, []):
            try:
                plugin_manager.registry(kind).create(name)
            except ReidError as exc:
                return f"{name}: {exc}"
            except Exception as exc:  # a plugin's own bug is reported, not raised: this is the diagnosis tool
                return f"{name}: {cause(exc)}"
    return None


def plugins(
    json_out: JsonOpt = False,
    check: Annotated[bool, typer.Option("--check", help="Also build every encoder and plugin detector, so that corrupt or missing weights show (slower).")] = False,
) -> None:
    """List every plugin, where it came from and what it registers (broken ones with their cause)."""
    found = plugin_manager.plugins()
    problems = {p.name: _check(p.registers, p.source) if check and p.ok else None for p in found}
    if json_out:
        print_json([{"name": p.name, "source": p.source, "location": p.location, "registers": p.registers,
                     "ok": p.ok and problems[p.name] is None, "checked": check,
                     "error": p.error or problems[p.name]} for p in found])
        return
    rows, places = [], []
    for p in found:
        registers = "; ".join(f"{kind}: {', '.join(names)}" for kind, names in p.registers.items() if names)
        if not p.ok:
            status = f"[red]broken: {p.error}[/]"
        elif problems[p.name]:
            status = f"[red]broken: {problems[p.name]}[/]"
        else:
            status = "ok, its models build" if check else "loaded"
        rows.append((p.name if p.source == "builtin" else f"{p.name} ({p.source})", registers, status))
        if p.location != p.name:  # a built-in's location is its module, its name already
            places.append(f"{p.name}: {p.location}")
    console.print(table("plugins", ["name", "registers", "status"], rows))
    if not check:
        console.print("weights not checked: --check builds every model")
    for place in places:
        console.print(place, soft_wrap=True)
