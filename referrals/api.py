"""Referral JSON API under /api/v1/."""

from flask import Blueprint

bp = Blueprint("referrals_api", __name__, url_prefix="/api/v1")
