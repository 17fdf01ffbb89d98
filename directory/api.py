"""JSON search API: /api/v1/services."""

from flask import Blueprint

bp = Blueprint("directory_api", __name__, url_prefix="/api/v1")
