"""rate limits: Flask-Limiter counters in the database, shared by every host and worker

Revision ID: 0007_rate_limits
Revises: 0006_import_runs
Create Date: 2026-12-10 12:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0007_rate_limits"
down_revision = "0006_import_runs"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "rate_limit",
        sa.Column("key", sa.String(length=1000), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_rate_limit")),
    )
    op.create_index("ix_rate_limit_expires_at", "rate_limit", ["expires_at"])


def downgrade():
    op.drop_table("rate_limit")
