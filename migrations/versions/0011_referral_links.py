"""referral links: refer to agencies that have not joined, by an emailed link or by phone

Revision ID: 0011_referral_links
Revises: 0010_idempotency_keys
Create Date: 2026-12-08 10:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0011_referral_links"
down_revision = "0010_idempotency_keys"
branch_labels = None
depends_on = None

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
)
NOTIFICATION_KINDS_AFTER = (*NOTIFICATION_KINDS_BEFORE, "link_requested")
DELIVERY_CHECK = "delivery IN ('network', 'email', 'phone')"


def _in(column, values):
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _replace_check(table, name, column, values):
    # Batch mode: ALTER on PostgreSQL, a table copy on SQLite (which can't alter a CHECK).
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f(name), type_="check")
        batch_op.create_check_constraint(batch_op.f(name), _in(column, values))


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def _has_column(table, column) -> bool:
    # On SQLite a downgrade leaves these columns behind (see downgrade): upgrade again reuses them.
    return column in {c["name"] for c in sa.inspect(op.get_bind()).get_columns(table)}


def _add_link_column(table):
    # Not a batch (a copy of `referral_event` would cascade on SQLite): SQLite adds a column with
    # an inline REFERENCES in place (Alembic can't), PostgreSQL gets a named constraint.
    if _sqlite():
        if _has_column(table, "link_id"):
            return
        op.execute(
            f"ALTER TABLE {table} ADD COLUMN link_id CHAR(32) "
            "REFERENCES referral_link (id) ON DELETE SET NULL"
        )
        return
    op.add_column(table, sa.Column("link_id", sa.Uuid(), nullable=True))
    op.create_foreign_key(
        op.f(f"fk_{table}_link_id_referral_link"),
        table,
        "referral_link",
        ["link_id"],
        ["id"],
        ondelete="SET NULL",
    )


def upgrade():
    # Every organization already in the network has joined (it was added with its accounts).
    op.add_column(
        "network_organization",
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.execute("UPDATE network_organization SET joined_at = created_at")
    if _sqlite():  # in place, with its CHECK (a batch copy of `referral` would cascade)
        if not _has_column("referral", "delivery"):
            op.execute(
                "ALTER TABLE referral ADD COLUMN delivery VARCHAR(20) DEFAULT 'network' NOT NULL "
                f"CONSTRAINT ck_referral_delivery CHECK ({DELIVERY_CHECK})"
            )
    else:
        op.add_column(
            "referral",
            sa.Column("delivery", sa.String(length=20), server_default="network", nullable=False),
        )
        op.create_check_constraint(op.f("ck_referral_delivery"), "referral", DELIVERY_CHECK)
    if _sqlite() and sa.inspect(op.get_bind()).has_table("referral_link"):
        pass  # left by a downgrade (see there), empty
    else:
        _create_link_table()
    _add_link_column("referral_event")
    _add_link_column("referral_message")
    _replace_check("notification", "ck_notification_kind", "kind", NOTIFICATION_KINDS_AFTER)


def _create_link_table():
    op.create_table(
        "referral_link",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("referral_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("sent_to", sa.String(length=320), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("new_link_requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by_id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["referral_id"],
            ["referral.id"],
            name=op.f("fk_referral_link_referral_id_referral"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["user_account.id"],
            name=op.f("fk_referral_link_created_by_id_user_account"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referral_link")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_referral_link_token_hash")),
    )
    op.create_index(op.f("ix_referral_link_referral_id"), "referral_link", ["referral_id"])


def downgrade():
    op.execute("DELETE FROM notification WHERE kind = 'link_requested'")
    _replace_check("notification", "ck_notification_kind", "kind", NOTIFICATION_KINDS_BEFORE)
    # SQLite can't drop a column that has a REFERENCES or a CHECK in place, and a batch copy of
    # `referral` or `referral_event` would cascade to their history: there the columns and the
    # table they refer to stay, emptied, and an upgrade reuses them.
    for table in ("referral_message", "referral_event"):
        if _sqlite():
            op.execute(f"UPDATE {table} SET link_id = NULL")
        else:
            op.drop_constraint(op.f(f"fk_{table}_link_id_referral_link"), table, type_="foreignkey")
            op.drop_column(table, "link_id")
    if _sqlite():
        op.execute("DELETE FROM referral_link")
    else:
        op.drop_index(op.f("ix_referral_link_referral_id"), table_name="referral_link")
        op.drop_table("referral_link")
    if _sqlite():
        op.execute("UPDATE referral SET delivery = 'network'")
    else:
        op.drop_constraint(op.f("ck_referral_delivery"), "referral", type_="check")
        op.drop_column("referral", "delivery")
    op.drop_column("network_organization", "joined_at")
