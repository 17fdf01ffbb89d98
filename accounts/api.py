"""Token API: trade an email and password for a bearer token, and end it."""

from flask import Blueprint, g, jsonify, request

from accounts.auth import api_auth_required, bearer_token
from accounts.limits import mark_failed_sign_in, sign_in_per_email, sign_in_per_ip
from accounts.services import (
    ROLE_LABELS,
    AccountInactive,
    authenticate,
    create_api_token,
    revoke_api_token,
)
from web.errors import json_error

bp = Blueprint("accounts_api", __name__, url_prefix="/api/v1")


def _error(status: int, code: str, message: str):
    return json_error(status, code, message)


@bp.post("/auth/token")
@sign_in_per_ip
@sign_in_per_email
def issue_token():
    """`{email, password}` → `{token, expires_at}`: a bearer token for the other endpoints."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        mark_failed_sign_in()
        return _error(400, "bad_request", 'Send a JSON object: {"email": "…", "password": "…"}.')
    email, password = body.get("email"), body.get("password")
    given = {"email": email, "password": password}
    unusable = [name for name, value in given.items() if not value or not isinstance(value, str)]
    if unusable:
        mark_failed_sign_in()
        return _error(
            400,
            "bad_request",
            f"Give 'email' and 'password' as non-empty strings (check: {', '.join(unusable)}).",
        )
    try:
        user = authenticate(email, password)
    except AccountInactive as exc:
        mark_failed_sign_in()
        return _error(403, "account_inactive", exc.message)
    if user is None:
        mark_failed_sign_in()
        response, status = _error(401, "unauthorized", "Email or password is incorrect.")
        response.headers["WWW-Authenticate"] = 'Bearer realm="wraparound"'
        return response, status
    issued = create_api_token(user)
    return jsonify(
        token=issued.token,
        token_type="Bearer",  # noqa: S106  (the scheme name, not a secret)
        expires_at=issued.expires_at.isoformat().replace("+00:00", "Z"),
    )


@bp.delete("/auth/token")
@api_auth_required()
def revoke_token():
    """End the token this request was made with (signing out of the API)."""
    revoke_api_token(bearer_token())
    return "", 204


@bp.get("/auth/me")
@api_auth_required()
def whoami():
    """Who the token belongs to: lets a client check its token and show the user's name."""
    user = g.api_user
    organization = user.organization
    return jsonify(
        id=str(user.id),
        email=user.email,
        full_name=user.full_name,
        role=user.role,
        role_label=ROLE_LABELS.get(user.role, user.role),
        organization=(
            {"id": str(organization.id), "name": organization.name, "kind": organization.kind}
            if organization
            else None
        ),
    )
