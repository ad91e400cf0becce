from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from reid import interrupts
from reid.app.options import JsonOpt
from reid.app.output import console, print_json


def review(
    result_dir: Annotated[Path, typer.Argument(help="Folder that cluster --result-dir or classify --result-dir wrote.")],
    port: Annotated[Optional[int], typer.Option("--port", min=1, max=65535, help="Port on 127.0.0.1. Default: a free one.")] = None,
    db: Annotated[Optional[Path], typer.Option("--db", dir_okay=False, help="Decisions database. Default: review.sqlite in RESULT_DIR.")] = None,
    export: Annotated[Optional[Path], typer.Option("--export", dir_okay=False, help="Write the review instead of serving it: an enrollment (PATH.json, with a folder of face crops per named character beside it) or labels (PATH.csv).")] = None,
    open_browser: Annotated[bool, typer.Option("--open", help="Also open the page in the default browser.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Check, name and correct clusters on a local web page, then export them as an enrollment.

    Every action is saved at once in an SQLite file beside the result, so stopping the server loses nothing and the next `reid review` resumes; the images and the result itself are never changed."""
    from reid.review.server import bind, server
    from reid.review.session import Review

    session = Review(result_dir, db)
    if export is not None:
        done = session.export(export)
        if json_out:
            print_json({"path": str(done.path), "counts": done.counts, "skipped": done.skipped})
        else:
            console.print(f"wrote {done.summary()}")
            for line in done.skipped:
                console.print(f"skipped {line}")
        return
    sock = bind(port)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/"
    state = session.state()
    serving = server(session)
    with interrupts.stops_normally(lambda: setattr(serving, "should_exit", True)):  # as uvicorn's own handler does
        console.print(f"reviewing {session.result.folder}: {len(session.result.faces)} faces in {len(state.ordered())} "
                      f"groups; decisions are saved in {session.store.path} as you go", soft_wrap=True)
        for note in session.result.notes:
            console.print(f"note: {note}", soft_wrap=True)
        console.print(f"open {url}  (Ctrl+C stops the server)", soft_wrap=True)
        if open_browser:
            import webbrowser
            webbrowser.open(url)
        serving.run(sockets=[sock])
    console.print(f"review server stopped; every decision is saved in {session.store.path}", soft_wrap=True)
