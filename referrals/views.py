"""Referral screens for coordinators and agency staff."""

from flask import Blueprint

bp = Blueprint("referrals", __name__, cli_group="referrals")
