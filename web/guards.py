"""The request-level input guard: control characters, JSON nested too deeply and text that is not
valid Unicode are refused with a 400 here, before any view, service or database sees them.

PostgreSQL refuses NUL in text (a 500 before this guard) and SQLite stores it; lone surrogates
can't be encoded at all. Tab and newline are text everywhere, carriage return in bodies too (a
textarea sends CRLF). Flask-Limiter's checks run before this guard, and `g.refused_input` lets a
limit that counts failures count a refused request too.
"""

import re
from collections.abc import Callable, Iterable

from flask import Flask, current_app, g, render_template, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import BadRequest

from web.errors import json_error, wants_json

MAX_JSON_DEPTH = 32

# C0 controls, DEL, C1 controls and UTF-16 surrogates; tab and newline (and CR in bodies) pass.
_BAD_IN_QUERY = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
_BAD_IN_BODY = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


class JSONTooDeep(ValueError):
    """A JSON body nested deeper than the parser's recursion allows."""


class SafeJSONProvider(DefaultJSONProvider):
    """Flask's JSON, where a body too deep for the parser is a ValueError (so `get_json` answers
    400 or, with silent=True, None) instead of a RecursionError."""

    def loads(self, s, **kwargs):
        try:
            return super().loads(s, **kwargs)
        except RecursionError:
            raise JSONTooDeep("The JSON is nested too deeply.") from None


class _Refused(Exception):
    def __init__(self, parameter: str | None, message: str):
        super().__init__(message)
        self.parameter = parameter
        self.message = message


def register_guards(app: Flask, on_refusal: Iterable[Callable[[], None]] = ()) -> None:
    """Install the JSON provider and the guard; `on_refusal` functions run before a refusal is
    answered (to count it against a rate limit: they may raise a 429)."""
    app.json = SafeJSONProvider(app)
    app.extensions["input_guard_on_refusal"] = list(on_refusal)
    app.before_request(_guard_request)


def _guard_request():
    try:
        _check_text("path", request.path, _BAD_IN_QUERY, name_it=False)
        for name, value in request.args.items(multi=True):
            _check_text(name, name + value, _BAD_IN_QUERY)
        if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            for name, value in request.form.items(multi=True):
                _check_text(name, name + value, _BAD_IN_BODY)
        if request.is_json and request.get_data(cache=True).strip():
            _check_json()
    except _Refused as exc:
        g.refused_input = True
        for hook in current_app.extensions["input_guard_on_refusal"]:
            hook()
        return _refusal(exc)
    return None


def _check_text(name: str, text: str, pattern: re.Pattern, *, name_it: bool = True) -> None:
    if pattern.search(text):
        where = f" in {name}" if name_it else " in the address"
        raise _Refused(
            name if name_it else None,
            f"Remove the control character or invalid Unicode{where}: only tab and new line "
            "(and carriage return in forms and JSON) may appear in text.",
        )


def _check_json() -> None:
    try:
        body = current_app.json.loads(request.get_data(cache=True))
    except JSONTooDeep:
        raise _Refused(None, _too_deep_message()) from None
    except ValueError:
        return  # not JSON at all: each endpoint answers that in its own words
    stack = [(body, "", 0)]
    while stack:
        value, where, depth = stack.pop()
        if isinstance(value, str):
            _check_text(where or "body", value, _BAD_IN_BODY)
            continue
        if not isinstance(value, dict | list):
            continue
        if depth >= MAX_JSON_DEPTH:
            raise _Refused(where or None, _too_deep_message())
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            path = f"{where}.{key}" if where else str(key)
            if isinstance(key, str):
                _check_text(path, key, _BAD_IN_BODY)
            stack.append((item, path, depth + 1))


def _too_deep_message() -> str:
    return f"The JSON is nested too deeply: at most {MAX_JSON_DEPTH} levels of objects and lists."


def _refusal(exc: _Refused):
    if wants_json():
        details = {"parameter": exc.parameter} if exc.parameter else {}
        return json_error(400, "invalid_input", exc.message, **details)
    return render_template("error.html", error=BadRequest(exc.message)), 400
