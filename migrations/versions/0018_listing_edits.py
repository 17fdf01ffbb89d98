"""listing edits: the staff "editor" right and the listing change log

Revision ID: 0018_listing_edits
Revises: 0017_member_status
Create Date: 2026-12-11 10:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0018_listing_edits"
down_revision = "0017_member_status"
branch_labels = None
depends_on = None


def upgrade():
    # A plain ADD COLUMN on both databases: no rebuild of user_account, which much refers to.
    op.add_column(
        "user_account",
        sa.Column("listing_editor", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_table(
        "listing_change",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("record_type", sa.String(length=50), nullable=False),
        sa.Column("record_id", sa.Uuid(), nullable=False),
        sa.Column("record_label", sa.String(length=500), nullable=False),
        sa.Column("field", sa.String(length=100), nullable=False),
        sa.Column("before", sa.Text(), nullable=True),
        sa.Column("after", sa.Text(), nullable=True),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_by_id", sa.Uuid(), nullable=True),
        sa.Column("changed_by", sa.String(length=320), nullable=False),
        sa.Column("suggestion_id", sa.Uuid(), nullable=True),
        sa.Column("restored_from_id", sa.Uuid(), nullable=True),
        sa.CheckConstraint("action IN ('edit', 'restore')", name=op.f("ck_listing_change_action")),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_listing_change_organization_id_organization"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["restored_from_id"],
            ["listing_change.id"],
            name=op.f("fk_listing_change_restored_from_id_listing_change"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_listing_change")),
    )
    op.create_index(
        "ix_listing_change_listing", "listing_change", ["organization_id", "changed_at"]
    )
    op.create_index(
        "ix_listing_change_record", "listing_change", ["record_type", "record_id", "field"]
    )
    op.create_index(op.f("ix_listing_change_suggestion_id"), "listing_change", ["suggestion_id"])


def downgrade():
    op.drop_index(op.f("ix_listing_change_suggestion_id"), table_name="listing_change")
    op.drop_index("ix_listing_change_record", table_name="listing_change")
    op.drop_index("ix_listing_change_listing", table_name="listing_change")
    op.drop_table("listing_change")
    # In place (SQLite 3.35+): a batch rebuild of user_account would cascade-delete what refers
    # to it (notifications, sessions).
    op.drop_column("user_account", "listing_editor")
