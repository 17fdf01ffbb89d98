"""outcome reminders: accepted referrals with no outcome by the deadline are flagged once

Revision ID: 0004_outcome_reminders
Revises: 0003_referrals
Create Date: 2026-11-25 10:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0004_outcome_reminders"
down_revision = "0003_referrals"
branch_labels = None
depends_on = None

EVENT_ACTIONS_BEFORE = ("send", "accept", "decline", "cancel", "forward", "complete", "overdue")
EVENT_ACTIONS_AFTER = (*EVENT_ACTIONS_BEFORE, "outcome_overdue")
NOTIFICATION_KINDS_BEFORE = (
    "sent",
    "accepted",
    "declined",
    "cancelled",
    "forwarded",
    "completed",
    "overdue",
    "message",
)
NOTIFICATION_KINDS_AFTER = (*NOTIFICATION_KINDS_BEFORE, "outcome_overdue")


def _in(column, values):
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _replace_check(table, name, column, values):
    # Batch mode: ALTER on PostgreSQL, a table copy on SQLite (which can't alter a CHECK).
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f(name), type_="check")
        batch_op.create_check_constraint(batch_op.f(name), _in(column, values))


def upgrade():
    # Not a batch: SQLite adds columns in place, while a batch would copy `referral` and drop the
    # old table, which (foreign keys on) cascades to every event, message and notice.
    op.add_column(
        "referral",
        sa.Column("outcome_overdue", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.add_column(
        "referral",
        sa.Column("outcome_overdue_notified_at", sa.DateTime(timezone=True), nullable=True),
    )
    _replace_check("referral_event", "ck_referral_event_action", "action", EVENT_ACTIONS_AFTER)
    _replace_check("notification", "ck_notification_kind", "kind", NOTIFICATION_KINDS_AFTER)


def downgrade():
    # The new kinds of rows can't satisfy the old checks: remove them first.
    op.execute("DELETE FROM notification WHERE kind = 'outcome_overdue'")
    op.execute("DELETE FROM referral_event WHERE action = 'outcome_overdue'")
    _replace_check("notification", "ck_notification_kind", "kind", NOTIFICATION_KINDS_BEFORE)
    _replace_check("referral_event", "ck_referral_event_action", "action", EVENT_ACTIONS_BEFORE)
    # Not a batch either (see upgrade); SQLite 3.35+ drops a column in place.
    op.drop_column("referral", "outcome_overdue_notified_at")
    op.drop_column("referral", "outcome_overdue")
