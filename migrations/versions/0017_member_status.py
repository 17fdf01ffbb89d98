"""member status: the member's consent to be told, their status links, SMS in the outbox

Revision ID: 0017_member_status
Revises: 0016_listing_suggestions
Create Date: 2026-12-11 10:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0017_member_status"
down_revision = "0016_listing_suggestions"
branch_labels = None
depends_on = None

CONTACT_CHECK = "contact_by IS NULL OR contact_by IN ('email', 'sms')"


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def _has_column(table, column) -> bool:
    # On SQLite a downgrade leaves these columns behind (see downgrade): upgrade again reuses them.
    return column in {c["name"] for c in sa.inspect(op.get_bind()).get_columns(table)}


def upgrade():
    # Not a batch: a copy of `member` would drop the old table, which on SQLite cascades to its
    # consents. SQLite adds the columns in place, the CHECK inline.
    if _sqlite():
        if not _has_column("member", "contact_by"):
            op.execute(
                "ALTER TABLE member ADD COLUMN contact_by VARCHAR(10) "
                f"CONSTRAINT ck_member_contact_by CHECK ({CONTACT_CHECK})"
            )
            op.add_column("member", sa.Column("contact_consent_at", sa.DateTime(timezone=True)))
    else:
        op.add_column("member", sa.Column("contact_by", sa.String(length=10), nullable=True))
        op.add_column("member", sa.Column("contact_consent_at", sa.DateTime(timezone=True)))
        op.create_check_constraint(op.f("ck_member_contact_by"), "member", CONTACT_CHECK)
    if not _has_column("outbox_email", "channel"):
        op.add_column(
            "outbox_email",
            sa.Column("channel", sa.String(length=10), server_default="email", nullable=False),
        )
    op.create_table(
        "member_status_link",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("referral_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("sent_to", sa.String(length=320), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["member.id"],
            name=op.f("fk_member_status_link_member_id_member"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["referral_id"],
            ["referral.id"],
            name=op.f("fk_member_status_link_referral_id_referral"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_status_link")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_member_status_link_token_hash")),
    )
    op.create_index(
        "ix_member_status_link_chain", "member_status_link", ["member_id", "referral_id"]
    )


def downgrade():
    op.drop_index("ix_member_status_link_chain", table_name="member_status_link")
    op.drop_table("member_status_link")
    op.execute("DELETE FROM outbox_email WHERE channel <> 'email'")
    if _sqlite():
        # SQLite can't drop a column with a CHECK in place, and a batch copy of `member` would
        # cascade to its consents: the columns stay, emptied, and an upgrade reuses them.
        op.execute("UPDATE member SET contact_by = NULL, contact_consent_at = NULL")
        return
    op.drop_column("outbox_email", "channel")
    op.drop_constraint(op.f("ck_member_contact_by"), "member", type_="check")
    op.drop_column("member", "contact_consent_at")
    op.drop_column("member", "contact_by")
