"""Full-text + geo search. The only module that imports whoosh."""

from flask import Flask


def init_app(app: Flask) -> None:
    """Placeholder until the search engine lands."""
