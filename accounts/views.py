"""Sign-in, sign-out and password reset."""

from flask import Blueprint

bp = Blueprint("accounts", __name__, cli_group="accounts")
