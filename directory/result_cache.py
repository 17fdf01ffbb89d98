"""Anonymous search answers reused until the next change: a per-process cache and HTTP caching.

People search the same needs again and again, and nothing a search answers changes between two
commits (nor within a minute: "open now" is read to the minute). So an anonymous search page or
JSON answer is kept, per process, under its URL, the index's change-feed position and engine
generation, and the current minute; the same position, URL and minute also make its `ETag`, so a
browser (and, for the JSON API, a proxy) revalidates with `If-None-Match` and gets a 304 until
the next change. The feed is applied before the position is read (`sync.keep_up`), as a search
does, and the position is saved only after the index holds its changes: an answer kept under a
position is never older than it.

Nothing a signed-in person sees is kept or made cacheable (`Cache-Control: no-store`).
The HTML page carries the visitor's own form token (CSRF): it is kept with a placeholder put back
per request, and is only ever `private` to the browser. The page also shows which results this
browser saved (the "my list" cookie): those ids are part of its key.
"""

import hashlib
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from flask import Response, current_app, g, request, session
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import generate_csrf

from directory.search import sync
from directory.search.engine import current_engine
from directory.search.listings import INDEX_VERSION
from web.security import mark_public

SIZE = 256  # answers kept per process (SEARCH_RESULT_CACHE_SIZE; 0 switches the cache off)
PRIVATE = (
    "no-store"  # a signed-in person's answers, and anything not safe to keep (as web.security)
)
_PLACEHOLDER = f"csrf-placeholder-{secrets.token_hex(16)}"  # no visitor can guess or send it


@dataclass(frozen=True)
class _Answer:
    body: bytes
    mimetype: str


class ResultCache:
    """The most recently used answers, up to `size` (least recently used dropped first)."""

    def __init__(self, size: int):
        self.size = size
        self._answers: OrderedDict[Hashable, _Answer] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> _Answer | None:
        with self._lock:
            answer = self._answers.get(key)
            if answer is not None:
                self._answers.move_to_end(key)
            return answer

    def put(self, key: Hashable, answer: _Answer) -> None:
        if self.size <= 0:
            return
        with self._lock:
            self._answers[key] = answer
            self._answers.move_to_end(key)
            while len(self._answers) > self.size:
                self._answers.popitem(last=False)

    def __len__(self) -> int:
        return len(self._answers)


def cache() -> ResultCache:
    """This process's cache for the current app (made on first use)."""
    found = current_app.extensions.get("directory_result_cache")
    if found is None:
        size = int(current_app.config.get("SEARCH_RESULT_CACHE_SIZE", SIZE))
        found = current_app.extensions.setdefault("directory_result_cache", ResultCache(size))
    return found


def _app_version() -> str:
    """What else an answer depends on: the templates' files, the index's document shape and
    APP_VERSION (e.g. a release id); computed once per process, as a deploy restarts it."""
    found = current_app.extensions.get("directory_result_version")
    if found is None:
        digest = hashlib.sha256(
            f"{INDEX_VERSION}:{current_app.config.get('APP_VERSION', '')}".encode()
        )
        folder = Path(current_app.root_path, current_app.template_folder or "templates")
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                stat = path.stat()
                digest.update(f"{path}:{stat.st_size}:{stat.st_mtime_ns}".encode())
        found = current_app.extensions.setdefault("directory_result_version", digest.hexdigest())
    return found


def _signed_in() -> bool:
    """A person signed in (a session) or a client presenting credentials (a token)."""
    if request.authorization is not None:
        return True
    from flask_login import current_user

    return bool(current_user and current_user.is_authenticated)


def private(response: Response) -> Response:
    response.headers["Cache-Control"] = PRIVATE
    return response


def answer(
    kind: str,
    render: Callable[[], ResponseReturnValue],
    *,
    shared: bool,
    headers: tuple[str, ...] = (),
    extra: Hashable = None,
) -> Response:
    """The response of `render()` (a search page or answer), from this process's cache when the
    same anonymous search was answered since the last change, or 304 when the client holds it.

    `kind` names the representation; the body also depends on the request `headers` named (they
    go into `Vary`) and on `extra`. `shared`: proxies may keep it (nothing of the visitor in it).
    """
    if _signed_in() or session.get("_flashes"):
        return private(_render(render))
    sync.keep_up()  # changes other processes committed first, as the search itself does
    position = sync.follower(current_app).position() if _following() else None
    if position is None:  # no index yet (or no feed followed): answer fresh, keep nothing
        return private(_render(render))
    minute = datetime.now(UTC).strftime("%Y%m%d%H%M")
    varied = tuple(request.headers.get(name, "") for name in headers)
    seed = (kind, request.full_path, varied, extra, position.to_json(), minute, _app_version())
    tag = hashlib.sha256(repr(seed).encode()).hexdigest()[:32]
    if request.if_none_match.contains_weak(tag):
        response = Response(status=304)
    else:
        key = (tag, current_engine().generation())
        kept = cache().get(key)
        if kept is not None:
            response = Response(_personalised(kept.body), mimetype=kept.mimetype)
        else:
            response = _render(render) if shared else _render_shareable(render)
            body = response.get_data()
            response.set_data(_personalised(body))
            if response.status_code != 200:  # a question the search refused: answered, not kept
                return private(response)
            cache().put(key, _Answer(body, response.mimetype))
    response.headers["ETag"] = f'"{tag}"' if shared else f'W/"{tag}"'  # weak: the form token
    response.headers["Cache-Control"] = "public, no-cache" if shared else "private, no-cache"
    mark_public()  # not a signed-in person's: web.security leaves its Cache-Control alone
    response.vary.update(("Cookie", "Authorization", *headers))
    return response


def _following() -> bool:
    return current_app.config.get("SEARCH_SYNC", True)


def _render(render: Callable[[], ResponseReturnValue]) -> Response:
    return current_app.make_response(render())


def _render_shareable(render: Callable[[], ResponseReturnValue]) -> Response:
    """Render with a placeholder for the visitor's form token, so the body fits every visitor."""
    field = current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
    own = g.pop(field, None)
    setattr(g, field, _PLACEHOLDER)
    try:
        return _render(render)
    finally:
        g.pop(field, None)
        if own is not None:
            setattr(g, field, own)


def _personalised(body: bytes) -> bytes:
    """The kept body with this visitor's own form token."""
    placeholder = _PLACEHOLDER.encode()
    if placeholder not in body:
        return body
    return body.replace(placeholder, generate_csrf().encode())
