"""The referral tables as migrated: one migration head, enums enforced by the database itself."""

from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from referrals import services
from referrals.models import AuditLog, Notification

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def test_migrations_have_a_single_head():
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    heads = ScriptDirectory.from_config(config).get_heads()
    assert len(heads) == 1, f"several migration heads: {heads}"


def test_inbox_and_dashboard_filters_are_indexed(db):
    indexes = {i["name"] for i in inspect(db.engine).get_indexes("referral")}
    assert {"ix_referral_inbox", "ix_referral_outbox", "ix_referral_due"} <= indexes
    notification_indexes = {i["name"] for i in inspect(db.engine).get_indexes("notification")}
    assert "ix_notification_user_unread" in notification_indexes


@pytest.mark.parametrize(
    ("column", "value"),
    [("status", "lost"), ("urgency", "whenever"), ("decline_reason", "busy"), ("outcome", "meh")],
)
def test_the_database_refuses_unknown_enum_values(db, network, create_member, column, value):
    referral = services.send_referral(
        network.coordinator_a, create_member(), network.service_a, need="Food"
    )
    db.session.commit()
    with pytest.raises(IntegrityError):
        db.session.execute(
            text(f"UPDATE referral SET {column} = :value WHERE id = :id"),
            {"value": value, "id": referral.id.hex if db.engine.name == "sqlite" else referral.id},
        )
        db.session.flush()
    db.session.rollback()


def test_notification_and_audit_kinds_are_checked(db, network):
    db.session.add(Notification(user_id=network.staff_a.id, kind="gossip", text="x"))
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()
    db.session.add(AuditLog(action="peek", object_type="member", actor_label="x"))
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()


def test_every_change_bumps_the_version(db, network, create_member):
    referral = services.send_referral(
        network.coordinator_a, create_member(), network.service_a, need="Food"
    )
    db.session.commit()
    assert referral.version_id == 1
    services.accept(referral, network.staff_a)
    db.session.commit()
    assert referral.version_id == 2
