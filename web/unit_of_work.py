"""One unit of work per request and per CLI command: it commits once when it succeeds and rolls
back on any error. Services flush, never commit; views and commands don't commit either.

As indico's request handler (`indico/web/rh.py`): the commit happens at the edge, inside the view
call, so a commit that fails (a unique constraint lost to a race, a stale version, the database
gone) reaches the error handlers like any other exception and becomes the same clear answer
(409, 503 with Retry-After...). A view that answers 4xx or 5xx writes nothing: a form error
re-rendered with 400 or 422 leaves the database as it was.

`commit_step()` is for the few places that must commit part of the work on purpose (a page that
explains a refusal still records who read which member; a job that commits as it goes); each
call says why. `discard()` undoes the work so far, for a view that goes on after a refused write.
"""

from collections.abc import Callable
from functools import wraps

from flask import Flask, current_app
from flask.cli import AppGroup

from extensions import db


def commit_step() -> None:
    """Commit the work so far now, on purpose; the rest of the request is a new unit of work."""
    db.session.commit()


def discard() -> None:
    """Undo the work so far (a refused write); what the view does next is a new unit of work."""
    db.session.rollback()


def roll_back_after_error() -> None:
    """Undo the work of a failed request or command, even when the connection is already gone
    (then there is nothing left to undo: the session is closed instead)."""
    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001  (the database is unreachable: the original error matters)
        db.session.close()


def _finish(success: bool) -> None:
    if success:
        db.session.commit()
    else:
        roll_back_after_error()


def run_view(view: Callable[[], object]):
    """Call `view` as one unit of work: commit if it answers < 400, else (or if it raises) roll
    back. The commit happens here, inside the dispatch, so the error handlers see its failures."""
    try:
        response = current_app.make_response(view())
    except BaseException:
        roll_back_after_error()
        raise
    _finish(response.status_code < 400)
    return response


def init_app(app: Flask) -> None:
    """Run every view of `app` (those of blueprints registered later too) as one unit of work."""
    dispatch = app.dispatch_request

    @wraps(dispatch)
    def dispatch_in_unit_of_work(*args, **kwargs):
        return run_view(lambda: dispatch(*args, **kwargs))

    # Flask's full_dispatch_request calls self.dispatch_request inside its try: exceptions raised
    # here, the commit's included, go to the registered error handlers.
    app.dispatch_request = dispatch_in_unit_of_work


def unit_of_work(command: Callable) -> Callable:
    """Decorator for a CLI command (inside its app context): commit when it returns, roll back
    if it raises (a ClickException too)."""

    @wraps(command)
    def run(*args, **kwargs):
        try:
            result = command(*args, **kwargs)
        except BaseException:
            roll_back_after_error()
            raise
        _finish(True)
        return result

    return run


class UnitOfWorkGroup(AppGroup):
    """A command group whose every command is one unit of work (see `unit_of_work`)."""

    def command(self, *args, **kwargs):
        wrap_in_app_context = kwargs.pop("with_appcontext", True)
        register = super().command(*args, with_appcontext=wrap_in_app_context, **kwargs)

        def decorator(function: Callable):
            # Innermost, so the commit runs inside the app context that AppGroup pushes.
            return register(unit_of_work(function) if wrap_in_app_context else function)

        return decorator
