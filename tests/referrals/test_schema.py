"""The referral tables as migrated: one migration head, enums enforced by the database itself."""

import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, inspect, select, text
from sqlalchemy.exc import IntegrityError

from extensions import UTCDateTime, utcnow
from referrals import services
from referrals.models import AuditLog, Notification
from tests.conftest import DATABASES, POSTGRES_ADMIN_URL, _make_app

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


# -- migrations ------------------------------------------------------------------------------


@pytest.fixture(params=DATABASES)
def empty_database_url(request, tmp_path):
    """A database with nothing in it yet (not the session's migrated one), dropped after."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    import psycopg

    name = f"wraparound_migrate_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL is not reachable: {exc}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    yield f"{base}/{name}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _referral_history(db) -> dict[str, int]:
    tables = ("referral", "referral_event", "referral_message", "notification")
    return {t: db.session.scalar(text(f"SELECT count(*) FROM {t}")) for t in tables}  # noqa: S608


def _tables_as_migrated(db) -> dict:
    """The tables as the database has them now (reflected): the models may have columns a later
    migration adds, which an older schema can't take."""
    metadata = MetaData()
    metadata.reflect(bind=db.engine)
    return metadata.tables


def test_the_consent_revoked_reason_migrates_without_losing_referral_history(
    empty_database_url, tmp_path
):
    """0005 rebuilds `referral` on SQLite: the events, messages and notices that cascade from it
    must all survive, links intact, and the new reason must be storable (and go back down)."""
    from flask_migrate import downgrade, upgrade

    from extensions import db, utcnow

    app = _make_app(empty_database_url, tmp_path / "index")
    with app.app_context():
        upgrade(revision="0004_outcome_reminders")
        tables = _tables_as_migrated(db)
        now = utcnow()
        agency, home, coordinator, member = (uuid.uuid4() for _ in range(4))
        first_id, second_id = uuid.uuid4(), uuid.uuid4()

        def stored(value):  # reflected from SQLite, a UUID column is CHAR(32): its hex
            is_uuid = isinstance(value, uuid.UUID)
            return value.hex if is_uuid and db.engine.name == "sqlite" else value

        def insert(table, **values):
            values = {name: stored(value) for name, value in values.items()}
            db.session.execute(tables[table].insert().values(**values))

        for org_id, name, kind in (
            (agency, "Pantry", "agency"),
            (home, "Health Home", "coordination"),
        ):
            insert(
                "network_organization",
                id=org_id,
                name=name,
                kind=kind,
                response_window_business_days=2,
                created_at=now,
            )
        insert(
            "user_account",
            id=coordinator,
            email="c@example.org",
            full_name="",
            role="coordinator",
            organization_id=home,
            active=True,
            created_at=now,
        )
        insert(
            "member",
            id=member,
            organization_id=home,
            first_name="Maria",
            last_name="Lopez",
            created_at=now,
            updated_at=now,
        )
        for referral_id, name, status, reason in (
            (first_id, "A", "forwarded", None),
            (second_id, "B", "cancelled", "other"),
        ):
            insert(
                "referral",
                id=referral_id,
                member_id=member,
                service_name=name,
                receiving_org_id=agency,
                sending_org_id=home,
                sending_user_id=coordinator,
                need="Food",
                urgency="routine",
                status=status,
                cancel_reason=reason,
                created_at=now,
                sent_at=now,
                due_at=now,
                overdue=False,
                version_id=1,
            )
            insert(
                "referral_event",
                id=uuid.uuid4(),
                referral_id=referral_id,
                at=now,
                to_status="sent",
                action="send",
            )
            insert(
                "referral_message",
                id=uuid.uuid4(),
                referral_id=referral_id,
                author_id=coordinator,
                body="Hello",
                created_at=now,
            )
            insert(
                "notification",
                id=uuid.uuid4(),
                user_id=coordinator,
                kind="sent",
                referral_id=referral_id,
                text="Sent",
                created_at=now,
            )
        referral = tables["referral"]
        db.session.execute(
            referral.update()
            .where(referral.c.id == stored(first_id))
            .values(forwarded_to_id=stored(second_id))
        )
        db.session.execute(
            referral.update()
            .where(referral.c.id == stored(second_id))
            .values(forwarded_from_id=stored(first_id))
        )
        db.session.commit()
        before = _referral_history(db)
        db.session.remove()

        upgrade()

        referral = _tables_as_migrated(db)["referral"]
        assert _referral_history(db) == before
        row = db.session.execute(select(referral).where(referral.c.id == stored(second_id))).one()
        assert uuid.UUID(str(row.forwarded_from_id)) == first_id
        if db.engine.name == "sqlite":
            assert db.session.execute(text("PRAGMA foreign_key_check")).all() == []
        db.session.execute(
            referral.update()
            .where(referral.c.id == stored(second_id))
            .values(cancel_reason="consent_revoked")
        )
        db.session.commit()
        db.session.remove()

        downgrade(revision="0004_outcome_reminders")

        referral = _tables_as_migrated(db)["referral"]
        assert _referral_history(db) == before
        moved = db.session.execute(select(referral).where(referral.c.id == stored(second_id))).one()
        assert (moved.cancel_reason, moved.cancel_text) == (
            "other",
            "The member revoked their consent.",
        )
        db.session.remove()
        db.engine.dispose()


_ORGANIZATION_0004 = {
    "id": sa.Uuid(),
    "name": sa.String(),
    "kind": sa.String(),
    "response_window_business_days": sa.Integer(),
    "created_at": UTCDateTime(),
}


def _old_organization(db, name: str, kind: str) -> uuid.UUID:
    """A network organization with the columns every schema since 0004 has (the model has
    columns added by later migrations, which an ORM insert would name)."""
    table = sa.Table(
        "network_organization",
        sa.MetaData(),
        *(sa.Column(name, type_) for name, type_ in _ORGANIZATION_0004.items()),
    )
    organization_id = uuid.uuid4()
    db.session.execute(
        table.insert().values(
            id=organization_id,
            name=name,
            kind=kind,
            response_window_business_days=2,
            created_at=utcnow(),
        )
    )
    return organization_id


def _old_user(db, organization_id, email: str, role: str) -> None:
    """A user row written with SQL, for a schema older than the models."""
    sqlite = db.engine.name == "sqlite"
    db.session.execute(
        text(
            "INSERT INTO user_account (id, email, full_name, role, organization_id, active, "
            "created_at) VALUES (:id, :email, '', :role, :org, :yes, :now)"
        ),
        {
            "id": uuid.uuid4().hex if sqlite else uuid.uuid4(),
            "email": email,
            "role": role,
            "org": organization_id.hex if sqlite else organization_id,
            "yes": True,
            "now": utcnow(),
        },
    )


def test_the_response_windows_migrate_in_place(empty_database_url, tmp_path):
    """0012 adds the emergency and urgent windows with their defaults and checks, without
    rebuilding `network_organization` (whose users and referrals a rebuild would reach)."""
    from flask_migrate import downgrade, upgrade

    from extensions import db

    app = _make_app(empty_database_url, tmp_path / "index")
    with app.app_context():
        upgrade(revision="0011_referral_links")
        agency = _old_organization(db, "Pantry", "agency")
        _old_user(db, agency, "a@example.org", "agency_admin")
        db.session.commit()
        db.session.remove()

        upgrade(revision="0012_response_windows")

        windows = "emergency_window_hours, urgent_window_business_days"
        row = db.session.execute(text(f"SELECT {windows} FROM network_organization")).one()
        assert tuple(row) == (4, 1)
        assert db.session.execute(text("SELECT count(*) FROM user_account")).scalar() == 1
        for column, value in (("emergency_window_hours", 73), ("urgent_window_business_days", 0)):
            with pytest.raises(IntegrityError):
                db.session.execute(text(f"UPDATE network_organization SET {column} = {value}"))
                db.session.flush()
            db.session.rollback()
        db.session.remove()

        downgrade(revision="0011_referral_links")

        assert db.session.execute(text("SELECT count(*) FROM user_account")).scalar() == 1
        columns = {c["name"] for c in inspect(db.engine).get_columns("network_organization")}
        assert "emergency_window_hours" not in columns
        db.session.remove()
        db.engine.dispose()


def test_assignment_and_internal_notes_migrate_both_ways(empty_database_url, tmp_path):
    """0015 adds `referral.assigned_to_id`, `referral_note` and the "assigned" event and notice
    kinds; going back drops those rows and keeps the referral and the rest of its history."""
    from datetime import timedelta

    from flask_migrate import downgrade, upgrade

    from accounts.models import NetworkOrganization, User
    from extensions import db
    from referrals.models import Member, Referral, ReferralEvent, ReferralNote

    app = _make_app(empty_database_url, tmp_path / "index")
    with app.app_context():
        upgrade()  # the models are the newest schema's
        agency = NetworkOrganization(name="Pantry", kind="agency")
        coordination = NetworkOrganization(name="Health Home", kind="coordination")
        staff = User(email="dev@pantry.example.org", role="agency_staff", organization=agency)
        member = Member(organization=coordination, first_name="Maria", last_name="Lopez")
        now = utcnow()
        referral = Referral(
            member=member,
            service_name="Food boxes",
            receiving_org=agency,
            sending_org=coordination,
            need="Food",
            status="sent",
            due_at=now + timedelta(days=2),
            assigned_to=staff,
        )
        db.session.add_all([agency, coordination, staff, member, referral])
        db.session.flush()
        for action in ("send", "assigned"):
            db.session.add(
                ReferralEvent(referral=referral, at=now, to_status="sent", action=action)
            )
        db.session.add(ReferralNote(referral_id=referral.id, author_id=staff.id, body="Call"))
        db.session.add(
            Notification(user_id=staff.id, kind="assigned", referral_id=referral.id, text="x")
        )
        db.session.commit()
        db.session.remove()

        downgrade(revision="0014_escalation")

        assert "referral_note" not in inspect(db.engine).get_table_names()
        count = "SELECT count(*) FROM "
        assert db.session.execute(text(count + "referral")).scalar() == 1
        assert db.session.execute(text("SELECT action FROM referral_event")).scalars().all() == [
            "send"
        ]
        assert db.session.execute(text(count + "notification")).scalar() == 0
        db.session.remove()

        upgrade()

        assert db.session.execute(text(count + "referral_event")).scalar() == 1
        assert db.session.execute(text("SELECT assigned_to_id FROM referral")).scalar() is None
        db.session.remove()
        db.engine.dispose()


def _raw_id(db, value: uuid.UUID):
    return value.hex if db.engine.name == "sqlite" else value


def test_the_member_status_columns_migrate_in_place(empty_database_url, tmp_path):
    """0017 adds the contact consent to `member` in place (a rebuild would cascade to consents on
    SQLite), with its check; outbox rows already queued are emails; it goes down and up again."""
    from flask_migrate import downgrade, upgrade

    from extensions import db

    app = _make_app(empty_database_url, tmp_path / "index")
    with app.app_context():
        upgrade(revision="0014_escalation")
        home = _old_organization(db, "Health Home", "coordination")
        now = utcnow()
        db.session.execute(
            text(
                "INSERT INTO outbox_email (id, to_address, subject, body, attempts, created_at, "
                "next_attempt_at) VALUES (:id, 'a@example.org', 'Hi', 'Hello', 0, :now, :now)"
            ),
            {"id": _raw_id(db, uuid.uuid4()), "now": now},
        )
        member = {"id": _raw_id(db, uuid.uuid4()), "org": _raw_id(db, home), "now": now}
        db.session.execute(
            text(
                "INSERT INTO member (id, organization_id, first_name, last_name, created_at, "
                "updated_at) VALUES (:id, :org, 'Maria', 'Lopez', :now, :now)"
            ),
            member,
        )
        db.session.commit()
        db.session.remove()

        upgrade(revision="0017_member_status")

        assert db.session.execute(text("SELECT channel FROM outbox_email")).scalar() == "email"
        assert db.session.execute(text("SELECT contact_by FROM member")).scalar() is None
        assert inspect(db.engine).has_table("member_status_link")
        db.session.execute(text("UPDATE member SET contact_by = 'sms'"))
        db.session.commit()
        with pytest.raises(IntegrityError):
            db.session.execute(text("UPDATE member SET contact_by = 'pigeon'"))
            db.session.flush()
        db.session.rollback()
        db.session.remove()

        downgrade(revision="0014_escalation")
        upgrade(revision="0017_member_status")

        assert db.session.execute(text("SELECT count(*) FROM member")).scalar() == 1
        assert db.session.execute(text("SELECT count(*) FROM outbox_email")).scalar() == 1
        db.session.remove()
        db.engine.dispose()


def test_the_listing_editor_right_and_change_log_migrate(empty_database_url, tmp_path):
    """0018 adds the staff editor right (off for everyone already there) and listing_change,
    and goes back down without losing the accounts."""
    from flask_migrate import downgrade, upgrade

    from extensions import db

    app = _make_app(empty_database_url, tmp_path / "index")
    with app.app_context():
        upgrade(revision="0014_escalation")
        agency = _old_organization(db, "Pantry", "agency")
        _old_user(db, agency, "s@example.org", "agency_staff")
        db.session.commit()
        db.session.remove()

        upgrade(revision="0018_listing_edits")
        editor = db.session.execute(text("SELECT listing_editor FROM user_account")).scalar()
        assert editor in (False, 0)
        assert "listing_change" in inspect(db.engine).get_table_names()
        db.session.remove()

        downgrade(revision="0014_escalation")
        assert db.session.execute(text("SELECT count(*) FROM user_account")).scalar() == 1
        assert "listing_change" not in inspect(db.engine).get_table_names()
        db.session.remove()
        db.engine.dispose()
