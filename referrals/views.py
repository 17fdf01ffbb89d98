"""Referral screens for coordinators and agency staff."""

from flask import Blueprint

bp = Blueprint("referrals", __name__, cli_group="referrals")

from referrals import cli as _cli  # noqa: E402,F401  (flask referrals deliver / sweep)
