"""Request plumbing of the HTML screens, shared by the referral pages and the admin pages:
which htmx region a request asks for, responses that vary on it, query-string arguments."""

import uuid
from datetime import date

from flask import Blueprint, make_response, render_template, request, url_for
from flask_limiter.util import get_remote_address
from werkzeug import exceptions as http

from extensions import htmx, limiter
from referrals.errors import NotFound
from web import paging

LINK_LOOKUPS_PER_IP = "60 per minute"  # plenty for a person; far too few to guess tokens


def token_pages(bp: Blueprint) -> Blueprint:
    """Make `bp` a set of pages opened by a secret token in the path (an agency's email link, a
    member's status link): lookups rate-limited per address, no Referer sent, never cached or
    indexed, and a token nobody was given is the generic 404 that tells nothing."""
    limiter.limit(LINK_LOOKUPS_PER_IP, key_func=get_remote_address)(bp)

    @bp.after_request
    def _private(response):
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Robots-Tag"] = "noindex"
        return response

    @bp.errorhandler(NotFound)
    def _not_found(exc: NotFound):
        # The unit of work has rolled back already.
        return render_template("error.html", error=http.NotFound()), 404

    return bp


def partial_for(*targets: str) -> str | None:
    """The region an htmx request asks for (its `HX-Target`), if it is one of `targets`."""
    if not htmx or htmx.boosted or htmx.history_restore_request:
        return None
    target = htmx.target or ""
    return target if target in targets else None


def respond(html: str, status: int = 200, *, vary: bool = True, trigger: str | None = None):
    """The page or partial, marked as varying on the htmx headers that chose it (unless `vary`
    is False), with an `HX-Trigger` event for other widgets when given."""
    response = make_response(html, status)
    if vary:
        response.vary.add("HX-Request")
        response.vary.add("HX-Target")
    if trigger:
        response.headers["HX-Trigger"] = trigger
    return response


def int_arg(name: str, default: int, allowed: tuple[int, ...] | None = None) -> int:
    """A whole number from the query string (1 to web.paging's MAX_PAGE, one of `allowed`),
    else `default`: a page asked for out of range shows the first one."""
    try:
        value = paging.page_number(request.args, name) if name in request.args else default
    except paging.BadPaging:
        return default
    if allowed is not None and value not in allowed:
        return default
    return value


def parse_uuid(raw: str | None) -> uuid.UUID | None:
    """An id typed or sent by a form; None when missing or not an id."""
    try:
        return uuid.UUID(str(raw).strip()) if raw else None
    except ValueError:
        return None


def parse_date(errors: dict, name: str, raw: str | None) -> date | None:
    """A YYYY-MM-DD date from a form (None when empty); a bad one is put in `errors[name]`."""
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors[name] = "Enter a date as YYYY-MM-DD (for example 2025-03-04)."
        return None


def page_url(endpoint: str, **changes) -> str:
    """This page's URL with some arguments changed (None drops one); back to page 1 unless given."""
    args = request.args.to_dict()
    args.pop("page", None)
    for key, value in changes.items():
        if value is None:
            args.pop(key, None)
        else:
            args[key] = value
    return url_for(endpoint, **(request.view_args or {}), **args)
