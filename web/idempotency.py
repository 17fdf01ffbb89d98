"""`Idempotency-Key` for the API's creation endpoints: a retried request gets the first answer.

A client that lost the answer to a POST (a timeout, a dropped connection) can't know whether it
was written; sending it again with the same `Idempotency-Key` header (IETF draft
httpapi-idempotency-key-header) is safe: the first answer comes back, with the same status and
body and `Idempotent-Replayed: true`, and nothing is written twice.

The key and the answer are stored in the same transaction as the rows the request wrote, so a
committed write always has its stored answer and a rolled-back one never has (its key stays
free). The stored row is inserted before the endpoint does its work: on PostgreSQL a second
request with the same key waits on the unique constraint until the first commits, then gets
409 and never writes. Keys are per user and expire after IDEMPOTENCY_KEY_HOURS (24).

The endpoints return an answer built from the rows they just wrote; the unit of work
(web.unit_of_work) commits after the view has returned it, so nothing is read after the commit
and a connection lost then can't turn a success into an error.
"""

import hashlib
import json
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import wraps
from typing import Any

from flask import current_app, g, jsonify, make_response, request
from sqlalchemy import JSON, ForeignKey, Integer, String, UniqueConstraint, Uuid, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from extensions import UTCDateTime, db, utcnow
from web.errors import json_error
from web.unit_of_work import discard

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
DEFAULT_HOURS = 24


class IdempotencyKey(db.Model):
    """A user's key, the request it came with, and (once it succeeded) the answer given."""

    __tablename__ = "idempotency_key"
    __table_args__ = (UniqueConstraint("user_id", "key"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("user_account.id", ondelete="CASCADE")
    )
    key: Mapped[str] = mapped_column(String(MAX_KEY_LENGTH))
    request_method: Mapped[str] = mapped_column(String(10))
    request_path: Mapped[str] = mapped_column(String(2000))
    request_fingerprint: Mapped[str] = mapped_column(String(64))  # sha256 of the body
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[Any] = mapped_column(JSON(none_as_null=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    def __repr__(self) -> str:
        return f"<IdempotencyKey {self.id} {self.request_method} {self.request_path}>"


class BadKey(ValueError):
    """The header's value can't be a key."""


def parse_key(raw: str) -> str:
    """The key in an `Idempotency-Key` header: 1 to 255 printable ASCII characters, bare or as a
    quoted string (the draft's structured-field form, `"…"`)."""
    key = raw.strip()
    if len(key) >= 2 and key[0] == key[-1] == '"':
        key = key[1:-1]
    if not key.strip():
        raise BadKey("The Idempotency-Key header is empty: send a unique value, e.g. a UUID.")
    if len(key) > MAX_KEY_LENGTH:
        raise BadKey(f"An Idempotency-Key has at most {MAX_KEY_LENGTH} characters.")
    if not all(" " <= char <= "~" for char in key):
        raise BadKey("An Idempotency-Key may only hold printable ASCII characters.")
    return key


def request_fingerprint() -> str:
    """sha256 of the request body, as canonical JSON when it is JSON (key order and spacing
    don't make a different request), else of its bytes."""
    data = request.get_json(silent=True)
    if data is None:
        raw = request.get_data(cache=True)
    else:
        raw = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return hashlib.sha256(raw).hexdigest()


def _expired_before(now: datetime) -> datetime:
    hours = current_app.config.get("IDEMPOTENCY_KEY_HOURS", DEFAULT_HOURS)
    return now - timedelta(hours=hours)


def purge_expired(now: datetime | None = None, user_id: uuid.UUID | None = None) -> int:
    """Delete expired keys (only `user_id`'s, when given); the caller commits."""
    cutoff = _expired_before(now or utcnow())
    stmt = delete(IdempotencyKey).where(IdempotencyKey.created_at < cutoff)
    if user_id is not None:
        stmt = stmt.where(IdempotencyKey.user_id == user_id)
    return db.session.execute(stmt).rowcount or 0


def _replay(stored: IdempotencyKey, fingerprint: str):
    same_request = (stored.request_method, stored.request_path, stored.request_fingerprint) == (
        request.method,
        request.path,
        fingerprint,
    )
    if not same_request:
        return json_error(
            422,
            "idempotency_key_reused",
            "This Idempotency-Key was already used for another request (another endpoint or "
            "body). Use a new key for a new request.",
        )
    response = jsonify(stored.response_body)
    response.status_code = stored.response_status
    response.headers[REPLAYED_HEADER] = "true"
    return response


def idempotent(view: Callable) -> Callable:
    """Decorator (under `api_auth_required`) for an endpoint that writes: answered once per
    `Idempotency-Key`, the stored answer written in the request's own unit of work."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        raw = request.headers.get(HEADER)
        if raw is None:
            return view(*args, **kwargs)
        try:
            key = parse_key(raw)
        except BadKey as exc:
            return json_error(400, "bad_idempotency_key", str(exc))
        user_id = g.api_user.id
        fingerprint = request_fingerprint()
        purge_expired(user_id=user_id)
        stored = db.session.scalar(
            select(IdempotencyKey).where(
                IdempotencyKey.user_id == user_id, IdempotencyKey.key == key
            )
        )
        if stored is not None:
            answer = _replay(stored, fingerprint)
            discard()  # a retry writes nothing
            return answer
        record = IdempotencyKey(
            user_id=user_id,
            key=key,
            request_method=request.method,
            request_path=request.path,
            request_fingerprint=fingerprint,
        )
        db.session.add(record)
        try:
            db.session.flush()
        except IntegrityError:
            # Another request with this key committed while we waited on its row.
            discard()
            response, status = json_error(
                409,
                "idempotency_key_in_progress",
                "A request with this Idempotency-Key is being handled; "
                "repeat it in a moment to get its answer.",
            )
            response.headers["Retry-After"] = "1"
            return response, status
        response = make_response(view(*args, **kwargs))
        if response.status_code < 400:  # what the unit of work commits always has its answer
            record.response_status = response.status_code
            record.response_body = response.get_json()
        return response

    return wrapped
