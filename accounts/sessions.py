"""Server-side sessions: open, find, keep alive and revoke the row behind a signed-in browser.

The cookie holds only a random id; its SHA-256 is the row's key. Writes flush; callers commit.
"""

import hashlib
import logging
import secrets
import uuid
from datetime import datetime, timedelta

from sqlalchemy import select, update

from accounts.models import UserSession
from extensions import db, utcnow

log = logging.getLogger(__name__)

# A session seen within this long is not written again: one UPDATE a minute, not one a request.
TOUCH_INTERVAL = timedelta(minutes=1)


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def open_session(
    user_id: uuid.UUID, lifetime: timedelta, ip: str = "", user_agent: str = ""
) -> str:
    """Record a new signed-in browser for `user_id`; returns the raw id for the cookie."""
    raw = secrets.token_urlsafe(32)
    now = utcnow()
    db.session.add(
        UserSession(
            token_hash=_hash(raw),
            user_id=user_id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + lifetime,
            ip=(ip or "")[:64],
            user_agent=(user_agent or "")[:300],
        )
    )
    db.session.flush()
    return raw


def live_session(raw: str | None, user_id: uuid.UUID, idle: timedelta) -> UserSession | None:
    """The unrevoked, unexpired, recently used session `raw` of `user_id`, else None."""
    if not raw or len(raw) > 200:
        return None
    record = db.session.scalar(select(UserSession).where(UserSession.token_hash == _hash(raw)))
    if record is None or record.user_id != user_id or record.revoked_at is not None:
        return None
    now = utcnow()
    if record.expires_at <= now or record.last_seen_at + idle <= now:
        return None
    return record


def needs_touch(record: UserSession, now: datetime | None = None) -> bool:
    """Whether the idle clock of `record` is worth writing again."""
    return (now or utcnow()) - record.last_seen_at >= TOUCH_INTERVAL


def touch_session(record: UserSession) -> None:
    """Restart the idle clock of a session in use."""
    record.last_seen_at = utcnow()
    db.session.flush()


def revoke_session(raw: str | None) -> None:
    """End one session (sign-out)."""
    if not raw or len(raw) > 200:
        return
    db.session.execute(
        update(UserSession)
        .where(UserSession.token_hash == _hash(raw), UserSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    db.session.flush()


def revoke_user_sessions(user_id: uuid.UUID) -> int:
    """End every session of a user (password change, deactivation, sign out everywhere)."""
    result = db.session.execute(
        update(UserSession)
        .where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    db.session.flush()
    if result.rowcount:
        log.info("%s sessions of user %s revoked", result.rowcount, user_id)
    return result.rowcount
