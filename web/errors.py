"""One error shape for the API and one error page for people; create_app registers the handlers.

Blueprints import `json_error` and `wants_json` from here, so no domain imports `app`.
"""

from flask import Flask, jsonify, render_template, request
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException

from web.unit_of_work import roll_back_after_error

RETRY_AFTER_SECONDS = 10  # how long a client should wait while the database is unreachable

# Served while the database is down: no template that might itself ask the database (the signed-in
# user, the navigation), so the page can always be shown.
UNAVAILABLE_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Wraparound is briefly unavailable</title></head>
<body><main><h1>Wraparound is briefly unavailable</h1>
<p>We can't reach our database just now. Nothing you sent was saved. Please try again in a
minute.</p></main></body></html>
"""


def wants_json() -> bool:
    """API and HSDS callers read JSON errors; everyone else gets a page."""
    return request.path.startswith(("/api/", "/hsds/")) or request.path == "/hsds"


def json_error(status: int, code: str, message: str, **details):
    """The API's error body, `{"error": {"code", "message", ...}}`, with its status."""
    body = {"error": {"code": code, "message": message, **details}}
    return jsonify(body), status


def database_unavailable(exc: BaseException) -> bool:
    """True when `exc` means the database can't be reached (down, restarting, connection lost),
    which a retry may cure, as opposed to a bug or bad data."""
    if isinstance(exc, OperationalError | InterfaceError):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def _unavailable_response():
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS), "Cache-Control": "no-store"}
    if wants_json():
        body, status = json_error(
            503, "database_unavailable", "The database is unreachable; try again shortly."
        )
        return body, status, headers
    return UNAVAILABLE_PAGE, 503, {**headers, "Content-Type": "text/html; charset=utf-8"}


def register_error_handlers(app: Flask) -> None:
    """Answer HTTP errors and unexpected exceptions as JSON or as the error page."""

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        status = exc.code or 500
        # The exception's own headers (a 405's Allow, a 401's WWW-Authenticate), not its type.
        headers = [(k, v) for k, v in exc.get_headers() if k.lower() != "content-type"]
        if wants_json():
            code = (exc.name or "error").lower().replace(" ", "_")
            body, status = json_error(status, code, exc.description or exc.name)
            return body, status, headers
        return render_template("error.html", error=exc), status, headers

    @app.errorhandler(Exception)
    def unexpected_error(exc: Exception):
        # Also for errors outside any view (a before_request hook): nothing half-done is kept.
        roll_back_after_error()
        if database_unavailable(exc):
            app.logger.warning(
                "database unavailable on %s %s: %s", request.method, request.path, exc
            )
            return _unavailable_response()
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        if wants_json():
            return json_error(500, "internal_error", "Something went wrong on our side.")
        return render_template("error.html", error=None), 500
