"""Security headers on every response (pages, JSON, errors, static files), set in one place."""

import re
from pathlib import Path

import pytest

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"

COMMON = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
}


def _assert_protected(response) -> None:
    for name, value in COMMON.items():
        assert response.headers.get(name) == value, (name, response.headers.get(name))
    csp = response.headers["Content-Security-Policy"]
    directives = dict(
        (part.split()[0], part.split()[1:]) for part in csp.split(";") if part.strip()
    )
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["object-src"] == ["'none'"]
    script_src = directives.get("script-src", directives["default-src"])
    assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src
    assert "'unsafe-inline'" not in directives.get("style-src", directives["default-src"])
    policy = response.headers["Permissions-Policy"]
    assert "geolocation=(self)" in policy
    assert re.search(r"camera=\(\)", policy) and re.search(r"microphone=\(\)", policy)


def test_public_pages_json_errors_and_static_files_carry_the_headers(client):
    for path, status in (
        ("/", 200),
        ("/login", 200),
        ("/hsds/", 200),
        ("/api/v1/services", 200),
        ("/no-such-page", 404),
        ("/hsds/no-such-thing", 404),
        ("/api/v1/members", 401),
        ("/static/js/app.js", 200),
    ):
        with client.get(path) as response:
            assert response.status_code == status, path
            _assert_protected(response)


def test_no_hsts_over_plain_http_by_default(client):
    assert "Strict-Transport-Security" not in client.get("/").headers


def test_hsts_when_cookies_are_secure(make_app):
    app = make_app(SESSION_COOKIE_SECURE=True)
    hsts = app.test_client().get("/").headers["Strict-Transport-Security"]
    assert re.fullmatch(r"max-age=\d{7,}; includeSubDomains", hsts)


def test_the_policy_is_configurable(make_app):
    app = make_app(CONTENT_SECURITY_POLICY="default-src 'none'; frame-ancestors 'none'")
    response = app.test_client().get("/")
    assert response.headers["Content-Security-Policy"] == (
        "default-src 'none'; frame-ancestors 'none'"
    )


def test_map_tiles_are_allowed_from_their_server_only(make_app):
    app = make_app(MAP_TILE_URL="https://{s}.tiles.example.org/{z}/{x}/{y}.png")
    csp = app.test_client().get("/").headers["Content-Security-Policy"]
    img_src = next(p for p in csp.split(";") if p.strip().startswith("img-src"))
    assert "https://*.tiles.example.org" in img_src.split()


def test_signed_in_pages_are_not_stored(client, dummy_coordinator, login):
    login(client, dummy_coordinator)
    for path in ("/members", "/account", "/"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["Cache-Control"] == "no-store", path
        _assert_protected(response)
    with client.get("/static/js/app.js") as static:
        assert "no-store" not in static.headers.get("Cache-Control", "")


def test_member_json_is_not_stored(client, dummy_coordinator, auth_headers):
    headers = auth_headers(dummy_coordinator)
    for path in ("/api/v1/members", "/api/v1/referrals"):
        response = client.get(path, headers=headers)
        assert response.status_code == 200, path
        assert response.headers["Cache-Control"] == "no-store", path
        _assert_protected(response)


def test_sign_in_and_reset_pages_are_not_stored_and_reset_links_leak_no_referrer(client):
    assert client.get("/login").headers["Cache-Control"] == "no-store"
    response = client.get("/password/reset/not-a-real-token")
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"


def _templates() -> list[Path]:
    return sorted(TEMPLATES.rglob("*.html"))


@pytest.mark.parametrize("path", _templates(), ids=lambda p: str(p.relative_to(TEMPLATES)))
def test_templates_have_no_inline_script_or_style(path):
    """What the CSP would block: inline scripts, event-handler attributes, hx-on, style=."""
    text = path.read_text()
    for tag in re.findall(r"<script\b[^>]*>", text):
        assert "src=" in tag or 'type="application/json"' in tag, tag
    assert not re.search(r"\son[a-z]+\s*=", text), "inline event handler"
    assert "hx-on" not in text
    assert not re.search(r"\sstyle\s*=", text), "inline style"
    assert "<style" not in text
    assert "javascript:" not in text
