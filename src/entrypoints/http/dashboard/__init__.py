"""The dashboard: static pages that read the public JSON API, served by the same app.

`GET /` answers the single HTML page; `GET /dashboard/{path}` answers its scripts, styles and the
vendored chart library. Every file ships inside the package (package data, so a built wheel serves
them) and is read once when the app is built, so a request can only ever name one of those files:
any other path, `..` included, is a 404. Each answer carries its content type, an ETag
(`If-None-Match` gives a 304), and a caching rule: files under a versioned `vendor/` folder never
change and are cached for a year; the page's own files are revalidated on every load.

The files are open even when reads need a key: they hold no data, and the page asks for the key.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from importlib.abc import Traversable

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException

STATIC_PACKAGE = __name__
STATIC_FOLDER = "static"
ASSET_PREFIX = "/dashboard/"
INDEX = "index.html"

_CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".txt": "text/plain; charset=utf-8",
    "": "text/plain; charset=utf-8",  # LICENSE
}
_REVALIDATE = "no-cache"
_IMMUTABLE = "public, max-age=31536000, immutable"
# Only this origin's files and API: no CDN, no inline script, no framing by another site.
_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)


@dataclass(frozen=True)
class StaticFile:
    """One file of the dashboard, held in memory with the headers it is served with."""

    body: bytes
    content_type: str
    etag: str
    cache_control: str


def load_static_files(root: Traversable | None = None) -> dict[str, StaticFile]:
    """Every servable file under the static folder, by its path relative to it ("js/api.js").

    Files whose suffix has no known content type are left out, so they cannot be served."""
    root = resources.files(STATIC_PACKAGE).joinpath(STATIC_FOLDER) if root is None else root
    files: dict[str, StaticFile] = {}
    pending: list[tuple[str, Traversable]] = [("", root)]
    while pending:
        prefix, folder = pending.pop()
        for entry in folder.iterdir():
            path = prefix + entry.name
            if entry.is_dir():
                pending.append((path + "/", entry))
                continue
            suffix = "." + entry.name.rsplit(".", 1)[1] if "." in entry.name else ""
            content_type = _CONTENT_TYPES.get(suffix)
            if content_type is None:
                continue
            body = entry.read_bytes()
            files[path] = StaticFile(
                body=body,
                content_type=content_type,
                etag='"' + hashlib.sha256(body).hexdigest()[:32] + '"',
                cache_control=_IMMUTABLE if path.startswith("vendor/") else _REVALIDATE,
            )
    return files


def add_dashboard_routes(app: FastAPI, files: dict[str, StaticFile] | None = None) -> None:
    """Add `GET /` (the page) and `GET /dashboard/{path}` (its files) to `app`, outside the API schema."""
    served = load_static_files() if files is None else files
    if INDEX not in served:
        raise RuntimeError(f"the dashboard's {INDEX} is missing from the package")

    @app.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
    async def dashboard_page(request: Request) -> Response:
        return _answer(request, served[INDEX])

    @app.api_route(ASSET_PREFIX + "{path:path}", methods=["GET", "HEAD"], include_in_schema=False)
    async def dashboard_file(request: Request, path: str) -> Response:
        file = served.get(path) if _plain(path) else None
        if file is None:
            raise HTTPException(status_code=404)
        return _answer(request, file)


def _plain(path: str) -> bool:
    """A relative path of named parts: no empty part, no `.` or `..`, no backslash."""
    parts = path.split("/")
    return "\\" not in path and all(part not in {"", ".", ".."} for part in parts)


def _answer(request: Request, file: StaticFile) -> Response:
    headers = {
        "ETag": file.etag,
        "Cache-Control": file.cache_control,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }
    if file.content_type.startswith("text/html"):
        headers["Content-Security-Policy"] = _CONTENT_SECURITY_POLICY
    offered = _etags(request.headers.get("if-none-match", ""))
    if file.etag in offered or "*" in offered:
        return Response(status_code=304, headers=headers)
    body = b"" if request.method == "HEAD" else file.body
    response = Response(body, media_type=file.content_type, headers=headers)
    if request.method == "HEAD":
        response.headers["content-length"] = str(len(file.body))
    return response


def _etags(header: str) -> set[str]:
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}
