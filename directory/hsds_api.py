"""The HSDS 3.0 API under /hsds/."""

from flask import Blueprint

bp = Blueprint("hsds_api", __name__, url_prefix="/hsds")
