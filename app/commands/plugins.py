from __future__ import annotations

from reid import plugins as plugin_manager
from reid.app.options import JsonOpt
from reid.app.output import console, print_json, table


def plugins(json_out: JsonOpt = False) -> None:
    """List every plugin, where it came from and what it registers (broken ones with their cause)."""
    found = plugin_manager.plugins()
    if json_out:
        print_json([{"name": p.name, "source": p.source, "location": p.location, "registers": p.registers,
                     "ok": p.ok, "error": p.error} for p in found])
        return
    rows = []
    for p in found:
        registers = "; ".join(f"{kind}: {', '.join(names)}" for kind, names in p.registers.items() if names)
        status = "ok" if p.ok else f"[red]broken: {p.error}[/]"
        rows.append((p.name, p.source, p.location, registers, status))
    console.print(table("plugins", ["name", "source", "location", "registers", "status"], rows))
