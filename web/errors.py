"""One error shape for the API and one error page for people; create_app registers the handlers.

Blueprints import `json_error` and `wants_json` from here, so no domain imports `app`.
"""

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from extensions import db


def wants_json() -> bool:
    """API and HSDS callers read JSON errors; everyone else gets a page."""
    return request.path.startswith(("/api/", "/hsds/")) or request.path == "/hsds"


def json_error(status: int, code: str, message: str, **details):
    """The API's error body, `{"error": {"code", "message", ...}}`, with its status."""
    body = {"error": {"code": code, "message": message, **details}}
    return jsonify(body), status


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
        db.session.rollback()
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        if wants_json():
            return json_error(500, "internal_error", "Something went wrong on our side.")
        return render_template("error.html", error=None), 500
