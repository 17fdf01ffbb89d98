"""assignment and internal notes: an agency hands a referral to a colleague, and keeps notes
the coordinator never sees

Revision ID: 0015_assignment_notes
Revises: 0014_escalation
Create Date: 2026-12-05 00:15:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0015_assignment_notes"
down_revision = "0014_escalation"
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
    "resent",
    "escalated",
)
EVENT_ACTIONS_AFTER = (*EVENT_ACTIONS_BEFORE, "assigned")
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
    "escalated",
)
NOTIFICATION_KINDS_AFTER = (*NOTIFICATION_KINDS_BEFORE, "assigned")


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
    # On SQLite a downgrade leaves the column behind (see downgrade): upgrade again reuses it.
    return column in {c["name"] for c in sa.inspect(op.get_bind()).get_columns(table)}


def upgrade():
    # Not a batch: a copy of `referral` would drop the old table, which on SQLite cascades to
    # every event, message and notice. SQLite adds the column in place (the foreign key inline).
    if _sqlite():
        if not _has_column("referral", "assigned_to_id"):
            op.execute(
                "ALTER TABLE referral ADD COLUMN assigned_to_id CHAR(32) "
                "REFERENCES user_account (id) ON DELETE SET NULL"
            )
    else:
        op.add_column("referral", sa.Column("assigned_to_id", sa.Uuid(), nullable=True))
        op.create_foreign_key(
            op.f("fk_referral_assigned_to_id_user_account"),
            "referral",
            "user_account",
            ["assigned_to_id"],
            ["id"],
            ondelete="SET NULL",
        )
    op.create_index(op.f("ix_referral_assigned_to_id"), "referral", ["assigned_to_id"])
    op.create_table(
        "referral_note",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("referral_id", sa.Uuid(), nullable=False),
        sa.Column("author_id", sa.Uuid(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["referral_id"],
            ["referral.id"],
            name=op.f("fk_referral_note_referral_id_referral"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["user_account.id"],
            name=op.f("fk_referral_note_author_id_user_account"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referral_note")),
    )
    op.create_index("ix_referral_note_referral_at", "referral_note", ["referral_id", "created_at"])
    _replace_check("referral_event", "ck_referral_event_action", "action", EVENT_ACTIONS_AFTER)
    _replace_check("notification", "ck_notification_kind", "kind", NOTIFICATION_KINDS_AFTER)


def downgrade():
    # The new kinds of rows can't satisfy the old checks: remove them first.
    op.execute("DELETE FROM notification WHERE kind = 'assigned'")
    op.execute("DELETE FROM referral_event WHERE action = 'assigned'")
    _replace_check("notification", "ck_notification_kind", "kind", NOTIFICATION_KINDS_BEFORE)
    _replace_check("referral_event", "ck_referral_event_action", "action", EVENT_ACTIONS_BEFORE)
    op.drop_index("ix_referral_note_referral_at", table_name="referral_note")
    op.drop_table("referral_note")
    op.drop_index(op.f("ix_referral_assigned_to_id"), table_name="referral")
    if _sqlite():
        # SQLite can't drop a column with a REFERENCES in place, and a batch copy of `referral`
        # would cascade to its history: the column stays, emptied, and an upgrade reuses it.
        op.execute("UPDATE referral SET assigned_to_id = NULL")
        return
    op.drop_constraint(
        op.f("fk_referral_assigned_to_id_user_account"), "referral", type_="foreignkey"
    )
    op.drop_column("referral", "assigned_to_id")
