"""search changes: the feed of changed services every search index follows, and its followers

Revision ID: 0019_search_changes
Revises: 0018_listing_edits
Create Date: 2026-12-05 00:20:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0019_search_changes"
down_revision = "0018_listing_edits"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "search_change",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("service_id", sa.Uuid(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_search_change")),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "search_consumer",
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("applied_seq", sa.BigInteger(), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_search_consumer")),
    )


def downgrade():
    op.drop_table("search_consumer")
    op.drop_table("search_change")
