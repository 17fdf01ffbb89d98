"""Health checks for load balancers: `GET /healthz` (the process answers) and
`GET /healthz/ready` (the database answers and this host's search index holds every committed
change). Not ready is a 503 with a JSON reason, so a balancer sends no traffic to a host that is
still building or catching up its index. Both are public, tiny and never cached.
"""

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from directory.search import sync
from extensions import db

bp = Blueprint("health", __name__)


def _answer(code: int, **body):
    response = jsonify(body)
    response.status_code = code
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/healthz")
def alive():
    """The process is up and serving requests (no database needed)."""
    return _answer(200, status="alive")


@bp.get("/healthz/ready")
def ready():
    """Ready for traffic: the database answers and the search index is caught up."""
    try:
        db.session.execute(text("SELECT 1"))
        state = sync.follower(current_app).readiness()
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        return _answer(503, status="not ready", reason=f"the database is not reachable ({reason})")
    if not state.ready:
        behind = {"behind": state.behind} if state.behind else {}
        return _answer(503, status="not ready", reason=state.reason, **behind)
    return _answer(200, status="ready")
