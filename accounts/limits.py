"""Rate limits on signing in and on reset emails, per client address and per account email, and
on listing claims and suggested fixes per client address."""

from flask import current_app, g, request
from flask_limiter.util import get_remote_address

from accounts.models import normalize_email
from extensions import limiter

TOO_MANY_SIGN_INS = "Too many sign-in attempts. Try again in a minute."
TOO_MANY_RESETS = "Too many password reset requests. Try again later."
TOO_MANY_CLAIMS = "Too many requests to manage a listing from this address. Try again later."
TOO_MANY_SUGGESTIONS = "Too many suggested fixes from this address. Try again later."


def _setting(name: str):
    """The limit as configured now (app.config, from the environment; defaults in app.py)."""
    return lambda: current_app.config[name]


def submitted_email() -> str:
    """The email a sign-in or reset request is about (form or JSON), as the rate-limit key."""
    email = request.form.get("email")
    if email is None and request.is_json:
        body = request.get_json(silent=True)
        if isinstance(body, dict) and isinstance(body.get("email"), str):
            email = body["email"]
    return "email:" + (normalize_email(email or "") or "(none)")


def mark_failed_sign_in() -> None:
    """Count this request against the sign-in limits (successful sign-ins don't count)."""
    g.sign_in_failed = True


def _sign_in_failed(_response) -> bool:
    # web.guards refuses bad input before the view runs: that attempt counts too.
    return bool(g.get("sign_in_failed") or g.get("refused_input"))


def _sign_in_limit(setting: str, scope: str, key_func):
    """A sign-in limit in a shared scope: the sign-in page and the token API draw on the same
    counters, and only failed attempts count."""
    return limiter.shared_limit(
        _setting(setting),
        scope=scope,
        key_func=key_func,
        methods=["POST"],
        error_message=TOO_MANY_SIGN_INS,
        deduct_when=_sign_in_failed,
    )


def _reset_limit(setting: str, key_func):
    return limiter.limit(
        _setting(setting), key_func=key_func, methods=["POST"], error_message=TOO_MANY_RESETS
    )


sign_in_per_ip = _sign_in_limit("LOGIN_RATE_LIMIT_PER_IP", "sign-in-ip", get_remote_address)
sign_in_per_email = _sign_in_limit("LOGIN_RATE_LIMIT_PER_EMAIL", "sign-in-email", submitted_email)
reset_per_ip = _reset_limit("RESET_RATE_LIMIT_PER_IP", get_remote_address)
reset_per_email = _reset_limit("RESET_RATE_LIMIT_PER_EMAIL", submitted_email)

claim_per_ip = limiter.limit(
    _setting("CLAIM_RATE_LIMIT_PER_IP"),
    key_func=get_remote_address,
    methods=["POST"],
    error_message=TOO_MANY_CLAIMS,
)

suggest_per_ip = limiter.limit(
    _setting("SUGGEST_RATE_LIMIT_PER_IP"),
    key_func=get_remote_address,
    methods=["POST"],
    error_message=TOO_MANY_SUGGESTIONS,
)


@sign_in_per_ip
@sign_in_per_email
def _sign_in_attempt() -> None:
    """Checked and counted like the sign-in views (same shared scopes)."""


@reset_per_ip
@reset_per_email
def _reset_request() -> None:
    """Checked and counted like the reset view (same endpoint, so the same counters)."""


@claim_per_ip
def _claim_request() -> None:
    """Checked and counted like the claim form (same endpoint, so the same counter)."""


@suggest_per_ip
def _suggestion() -> None:
    """Checked and counted like the suggest-a-fix form (same endpoint, so the same counter)."""


_LIMITED_ENDPOINTS = {
    "accounts.login": _sign_in_attempt,
    "accounts_api.issue_token": _sign_in_attempt,
    "accounts.forgot_password": _reset_request,
    "claims.claim_listing": _claim_request,
    "suggestions.suggest_fix": _suggestion,
}


def count_refused_request() -> None:
    """Input that web.guards refuses before a rate-limited view still uses up that view's limit
    (429 once it is used up), so malformed requests can't guess past the limits."""
    if request.method == "POST" and (check := _LIMITED_ENDPOINTS.get(request.endpoint or "")):
        check()
