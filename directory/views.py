"""Public directory pages (no login)."""

from flask import Blueprint

bp = Blueprint("directory", __name__, cli_group="directory")

from directory import cli  # noqa: E402,F401  (registers the `flask directory ...` commands)
