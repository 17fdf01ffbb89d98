"""escalation: re-send a declined or unanswered referral to the next best service

Revision ID: 0014_escalation
Revises: 0013_listing_claims
Create Date: 2026-12-10 10:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0014_escalation"
down_revision = "0013_listing_claims"
branch_labels = None
depends_on = None

EVENT_ACTIONS_BEFORE = (
    "send",
    "accept",
    "decline",
    "cancel",
    "forward",
    "complete",
    "overdue",
    "outcome_overdue",
)
EVENT_ACTIONS_AFTER = (*EVENT_ACTIONS_BEFORE, "resent", "escalated")
NOTIFICATION_KINDS_BEFORE = (
    "sent",
    "accepted",
    "declined",
    "cancelled",
    "forwarded",
    "completed",
    "overdue",
    "message",
    "outcome_overdue",
    "link_requested",
)
NOTIFICATION_KINDS_AFTER = (*NOTIFICATION_KINDS_BEFORE, "escalated")


def _in(column, values):
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _replace_check(table, name, column, values):
    # Batch mode: ALTER on PostgreSQL, a table copy on SQLite (which can't alter a CHECK).
    # Nothing cascades from `referral_event` or `notification`, so their copy loses nothing.
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f(name), type_="check")
        batch_op.create_check_constraint(batch_op.f(name), _in(column, values))


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def _has_column(table, column) -> bool:
    # On SQLite a downgrade leaves these columns behind (see downgrade): upgrade again reuses them.
    return column in {c["name"] for c in sa.inspect(op.get_bind()).get_columns(table)}


def upgrade():
    # Not a batch: a copy of `referral` would drop the old table, which on SQLite cascades to
    # every event, message and notice. SQLite adds the columns in place (the foreign key inline).
    if _sqlite():
        if not _has_column("referral", "resent_from_id"):
            op.execute(
                "ALTER TABLE referral ADD COLUMN resent_from_id CHAR(32) "
                "REFERENCES referral (id) ON DELETE SET NULL"
            )
    else:
        op.add_column("referral", sa.Column("resent_from_id", sa.Uuid(), nullable=True))
        op.create_foreign_key(
            op.f("fk_referral_resent_from_id_referral"),
            "referral",
            "referral",
            ["resent_from_id"],
            ["id"],
            ondelete="SET NULL",
        )
    if not _has_column("referral", "auto_escalate"):
        op.add_column(
            "referral",
            sa.Column("auto_escalate", sa.Boolean(), server_default=sa.false(), nullable=False),
        )
        op.add_column(
            "referral", sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True)
        )
    op.create_index(op.f("ix_referral_resent_from_id"), "referral", ["resent_from_id"])
    _replace_check("referral_event", "ck_referral_event_action", "action", EVENT_ACTIONS_AFTER)
    _replace_check("notification", "ck_notification_kind", "kind", NOTIFICATION_KINDS_AFTER)


def downgrade():
    # The new kinds of rows can't satisfy the old checks: remove them first.
    op.execute("DELETE FROM notification WHERE kind = 'escalated'")
    op.execute("DELETE FROM referral_event WHERE action IN ('resent', 'escalated')")
    _replace_check("notification", "ck_notification_kind", "kind", NOTIFICATION_KINDS_BEFORE)
    _replace_check("referral_event", "ck_referral_event_action", "action", EVENT_ACTIONS_BEFORE)
    op.drop_index(op.f("ix_referral_resent_from_id"), table_name="referral")
    if _sqlite():
        # SQLite can't drop a column with a REFERENCES in place, and a batch copy of `referral`
        # would cascade to its history: the columns stay, emptied, and an upgrade reuses them.
        op.execute(
            "UPDATE referral SET resent_from_id = NULL, auto_escalate = 0, escalated_at = NULL"
        )
        return
    op.drop_constraint(op.f("fk_referral_resent_from_id_referral"), "referral", type_="foreignkey")
    op.drop_column("referral", "escalated_at")
    op.drop_column("referral", "auto_escalate")
    op.drop_column("referral", "resent_from_id")
