"""GET /api/v1/openapi.json: the OpenAPI 3.0 description of the JSON API (auth, services,
members, referrals, notifications), served from web/openapi/api-v1.json with the server URL."""

import json
from functools import cache
from pathlib import Path

from flask import Blueprint, jsonify, url_for

bp = Blueprint("api_docs", __name__, url_prefix="/api/v1")

DOCUMENT = Path(__file__).parent / "openapi" / "api-v1.json"


@cache
def _document() -> str:
    return DOCUMENT.read_text(encoding="utf-8")


@bp.get("/openapi.json")
def openapi():
    """The API's OpenAPI document, for client generators and the fuzz tests."""
    document = json.loads(_document())
    document["servers"] = [{"url": url_for("api_docs.openapi", _external=True).rsplit("/", 1)[0]}]
    return jsonify(document)
