"""listing suggestions ("Something wrong? Suggest a fix") and the monthly stale-listing reminder

Revision ID: 0016_listing_suggestions
Revises: 0015_assignment_notes
Create Date: 2026-12-11 10:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0016_listing_suggestions"
down_revision = "0015_assignment_notes"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "listing_suggestion",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("service_id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("correction", sa.Text(), nullable=False),
        sa.Column("contact_email", sa.String(length=320), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("dismiss_reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by_id", sa.Uuid(), nullable=True),
        sa.Column("edit_url", sa.String(length=500), nullable=True),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.CheckConstraint(
            "kind IN ('phone', 'hours', 'address', 'closed', 'other')",
            name=op.f("ck_listing_suggestion_kind"),
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'accepted', 'dismissed')",
            name=op.f("ck_listing_suggestion_status"),
        ),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["service.id"],
            name=op.f("fk_listing_suggestion_service_id_service"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_listing_suggestion_organization_id_organization"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"],
            ["user_account.id"],
            name=op.f("fk_listing_suggestion_decided_by_id_user_account"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_listing_suggestion")),
    )
    op.create_index(
        "ix_listing_suggestion_queue",
        "listing_suggestion",
        ["organization_id", "status", "created_at"],
    )
    op.create_index(op.f("ix_listing_suggestion_service_id"), "listing_suggestion", ["service_id"])
    # No foreign key: SQLite adds the column in place.
    op.add_column(
        "network_organization",
        sa.Column("listings_reminded_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade():
    # In place on both (SQLite 3.35+ drops a plain column): a batch copy of
    # network_organization would drop the table its users point at.
    op.execute("ALTER TABLE network_organization DROP COLUMN listings_reminded_at")
    op.drop_index(op.f("ix_listing_suggestion_service_id"), table_name="listing_suggestion")
    op.drop_index("ix_listing_suggestion_queue", table_name="listing_suggestion")
    op.drop_table("listing_suggestion")
