"""Security headers on every response, set in one place; create_app calls `init_app`.

Settings: CONTENT_SECURITY_POLICY (empty: the policy built here), PERMISSIONS_POLICY,
HSTS_SECONDS (sent only when SESSION_COOKIE_SECURE is on, i.e. the site is served over HTTPS).
"""

from urllib.parse import urlsplit

from flask import Flask, Response, current_app, g, request
from flask_login import current_user

PERMISSIONS_POLICY = "geolocation=(self), camera=(), microphone=(), payment=(), usb=()"


def init_app(app: Flask) -> None:
    """Add the headers to every response, errors and static files included."""
    app.config.setdefault("CONTENT_SECURITY_POLICY", "")
    app.config.setdefault("PERMISSIONS_POLICY", PERMISSIONS_POLICY)
    app.config.setdefault("HSTS_SECONDS", 31536000)
    app.after_request(add_security_headers)


def content_security_policy(tile_url: str = "") -> str:
    """Scripts and styles from this site only (no inline ones), nothing may frame our pages."""
    images = ["'self'", "data:"]
    if origin := _tile_origin(tile_url):
        images.append(origin)
    directives = {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": images,
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
    return "; ".join(f"{name} {' '.join(values)}" for name, values in directives.items())


def _tile_origin(tile_url: str) -> str | None:
    # A Leaflet tile template ("https://{s}.tile.example.org/{z}/{x}/{y}.png") to a CSP source.
    parts = urlsplit(tile_url.replace("{s}", "*"))
    if parts.scheme not in ("http", "https") or not parts.netloc or "{" in parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}"


def add_security_headers(response: Response) -> Response:
    """The protective headers; a view's own value (a stricter Referrer-Policy) is kept."""
    config = current_app.config
    headers = response.headers
    policy = config["CONTENT_SECURITY_POLICY"] or content_security_policy(
        config.get("MAP_TILE_URL", "")
    )
    headers.setdefault("Content-Security-Policy", policy)
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    headers.setdefault("Permissions-Policy", config["PERMISSIONS_POLICY"])
    if config.get("SESSION_COOKIE_SECURE") and config["HSTS_SECONDS"]:
        headers.setdefault(
            "Strict-Transport-Security", f"max-age={int(config['HSTS_SECONDS'])}; includeSubDomains"
        )
    if _private():
        headers["Cache-Control"] = "no-store"
    return response


def mark_public() -> None:
    """This response may be kept by browsers and proxies with its own `Cache-Control` (an
    anonymous search answer, `directory.result_cache`), though its path is under /api/v1/."""
    g.public_answer = True


def _private() -> bool:
    # Member data, tokens and sign-in forms must not stay in a shared browser's or proxy's cache.
    if request.endpoint == "static" or g.get("public_answer"):
        return False
    if request.path.startswith("/api/v1/") or request.blueprint == "accounts":
        return True
    if g.get("api_user") is not None:
        return True
    return bool(current_user and current_user.is_authenticated)
