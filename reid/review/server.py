"""The review page: FastAPI, HTML rendered on the server (Jinja2), plain forms that post an action and come back
to the page they were sent from (post, redirect, get). Bound to 127.0.0.1 only."""

from __future__ import annotations

import socket
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from reid.errors import ReidError
from reid.review.result import NOISE
from reid.review.session import Review
from reid.review.state import NEW_GROUP, ReviewState
from reid.review.suggest import MAX_PARTS, nearest_groups, split_parts, typical_first

ROW_FACES = 12  # faces per cluster on the overview
SPLIT_FACES = 16  # faces shown per part in a split's preview, most typical first
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}

_templates = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                         autoescape=select_autoescape(default=True))


def create_app(review: Review) -> FastAPI:
    app = FastAPI(title="reid review", docs_url=None, redoc_url=None, openapi_url=None)
    result = review.result

    @app.middleware("http")
    async def local_only(request: Request, call_next):
        # the server listens on loopback only; refusing other Host names also stops DNS rebinding, and a
        # form posted from another site's page (its Origin) must not change the review
        host = urlsplit(f"//{request.headers.get('host', '')}").hostname or ""
        origin = request.headers.get("origin")
        if host not in LOOPBACK or (request.method == "POST" and origin and urlsplit(origin).hostname not in LOOPBACK):
            return Response("reid review answers local pages only", status_code=403, media_type="text/plain")
        return await call_next(request)

    @app.exception_handler(ReidError)
    async def reid_error(request: Request, exc: ReidError):
        return _page("error.html", request, review, status_code=404, error=str(exc))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception):
        # one page with one line; the server keeps serving the rest
        return _page("error.html", request, review, status_code=500, error=f"{type(exc).__name__}: {exc}")

    def ordered_faces(state: ReviewState, key: str) -> list[tuple[int, float | None]]:
        group = state.require(key)
        if result.vectors is None:
            return [(f, None) for f in group.faces]
        return typical_first(result.vectors, group)

    @app.get("/", response_class=HTMLResponse)
    def overview(request: Request):
        state = review.state()
        rows = [(g, ordered_faces(state, g.key)[:ROW_FACES]) for g in state.ordered()]
        return _page("overview.html", request, review, state=state, rows=rows, export_path=review.export_path(),
                     history=review.history())

    @app.get("/groups/{key}", response_class=HTMLResponse)
    def group_page(request: Request, key: str):
        state = review.state()
        group = state.require(key)
        ordered = state.ordered()
        candidates = []
        if result.vectors is not None and not group.noise:
            candidates = [(state.groups[k], score, ordered_faces(state, k)[:6])
                          for k, score in nearest_groups(result.vectors, ordered, key)]
        targets = [g for g in ordered if g.key != key]
        return _page("group.html", request, review, state=state, group=group, faces=ordered_faces(state, key),
                     candidates=candidates, targets=targets, new_group=NEW_GROUP)

    def proposal(key: str, parts: str) -> tuple:
        """The split of ``key`` into ``parts`` (blank: as many as fit best) that the preview shows and the action applies."""
        if parts and not (parts.isdigit() and 2 <= int(parts) <= MAX_PARTS):
            raise ReidError(f"a split makes 2 to {MAX_PARTS} parts, not {parts!r}")
        state = review.state()
        group = state.require(key)
        if result.vectors is None:
            raise ReidError("splitting needs the result's embeddings.npy (written by cluster --result-dir); run cluster again")
        if len(group.faces) < 2:
            raise ReidError(f"{group.title} has fewer than two faces: nothing to split")
        return state, group, split_parts(result.vectors, group, int(parts) if parts else None)

    @app.get("/groups/{key}/split", response_class=HTMLResponse)
    def split_page(request: Request, key: str, parts: str = ""):
        state, group, proposed = proposal(key, parts)
        shown = [[f for f, _ in typical_first(result.vectors, type(group)(group.key, part))][:SPLIT_FACES] for part in proposed]
        return _page("split.html", request, review, state=state, group=group, parts=list(zip(proposed, shown)),
                     chosen=int(parts) if parts else None, counts=range(2, min(MAX_PARTS, len(group.faces)) + 1),
                     seen=",".join(map(str, sorted(group.faces))))

    @app.get("/faces/{face_id}", response_class=HTMLResponse)
    def face_page(request: Request, face_id: int):
        face = review.face(face_id)
        state = review.state()
        _, size = review.source(face_id)
        box = None
        if face.box is not None and size is not None:
            w, h = size
            box = {"left": 100 * face.box.left / w, "top": 100 * face.box.top / h,
                   "width": 100 * (face.box.right - face.box.left) / w, "height": 100 * (face.box.bottom - face.box.top) / h}
        group = state.group_of(face_id)
        return _page("face.html", request, review, state=state, face=face, group=group, box=box, size=size,
                     targets=[g for g in state.ordered() if g.key != group.key], new_group=NEW_GROUP)

    @app.get("/thumbs/{face_id}.jpg")
    def thumbnail(face_id: int):
        return Response(review.thumbnail(face_id), media_type="image/jpeg",
                        headers={"Cache-Control": "max-age=3600"})

    @app.get("/sources/{face_id}.jpg")
    def source(face_id: int):
        return Response(review.source(face_id)[0], media_type="image/jpeg")

    @app.get("/api/state")
    def api_state():
        return JSONResponse({"result": str(result.folder), "kind": result.kind, "faces": len(result.faces),
                             **review.state().to_json()})

    @app.post("/actions/name")
    def name(group: str = Form(), name: str = Form(""), next: str = Form("/")):
        return _after(next, lambda: review.act("name", {"group": group, "name": name}))

    @app.post("/actions/merge")
    def merge(groups: list[str] = Form([]), into: str = Form(""), next: str = Form("/")):
        def run() -> str:
            if not into and not groups:
                raise ReidError("select the clusters to merge first")
            state = review.state()
            # from the overview: the selected clusters go into the largest of them
            target = into or max(groups, key=lambda k: len(state.require(k).faces))
            return review.act("merge", {"into": target, "groups": groups})
        return _after(next, run, to_group=into or None)

    @app.post("/actions/move")
    def move(faces: list[int] = Form([]), to: str = Form(...), next: str = Form("/")):
        return _after(next, lambda: review.act("move", {"faces": faces, "to": to}))

    @app.post("/actions/split")
    def split(group: str = Form(), parts: str = Form(""), seen: str = Form(""), next: str = Form("/")):
        def run() -> str:
            state, current, proposed = proposal(group, parts)
            if seen != ",".join(map(str, sorted(current.faces))):
                raise ReidError(f"{current.title} changed since the preview; look at the proposal again")
            return review.act("split", {"group": group, "parts": proposed})
        return _after(next, run)

    @app.post("/actions/not-character")
    def not_character(group: str = Form(), value: bool = Form(True), next: str = Form("/")):
        return _after(next, lambda: review.act("not_character", {"group": group, "value": value}))

    @app.post("/actions/undo")
    def undo(next: str = Form("/")):
        return _after(next, review.undo)

    @app.post("/actions/export")
    def export(path: str = Form(...), next: str = Form("/")):
        return _after(next, lambda: f"exported {review.export(Path(path).expanduser()).summary()}")

    return app


def _after(next_page: str, run, to_group: str | None = None) -> RedirectResponse:
    """Run an action and go back to ``next_page`` with its message, or with the reason it was refused."""
    if not next_page.startswith("/") or next_page.startswith("//"):
        next_page = "/"
    try:
        query = {"message": run()}
    except ReidError as exc:
        query = {"error": str(exc)}
    # a cluster merged away has no page any more: go back to the one it went into
    if to_group and "message" in query and next_page.startswith("/groups/"):
        next_page = f"/groups/{to_group}"
    return RedirectResponse(f"{urlsplit(next_page).path}?{urlencode(query)}", status_code=303)


def _page(template: str, request: Request, review: Review, *, status_code: int = 200, **context) -> HTMLResponse:
    html = _templates.get_template(template).render(
        request=request, result=review.result, db=review.store.path, here=request.url.path,
        message=request.query_params.get("message"), error=context.pop("error", None) or request.query_params.get("error"),
        noise=NOISE, **context)
    return HTMLResponse(html, status_code=status_code)


def bind(port: int | None) -> socket.socket:
    """A listening socket on 127.0.0.1 (a free port when ``port`` is None)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port or 0))
    except OSError as exc:
        sock.close()
        raise ReidError(f"port {port} on 127.0.0.1 cannot be used ({exc.strerror}); choose another with --port, or "
                        "leave --port out for a free one") from None
    sock.listen(128)
    return sock


def server(review: Review, *, quiet: bool = True):
    """A uvicorn server for the page: ``.run(sockets=[bind(port)])`` serves until interrupted (Ctrl+C)."""
    import uvicorn

    config = uvicorn.Config(create_app(review), log_level="warning" if quiet else "info", access_log=not quiet)
    return uvicorn.Server(config)
