"""import runs and review flags: the history of imports, and records an import kept for review

Revision ID: 0006_import_runs
Revises: 0005_consent_revoked
Create Date: 2026-12-04 19:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0006_import_runs"
down_revision = "0005_consent_revoked"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "import_run",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("source", sa.String(length=2000), nullable=False),
        sa.Column("dataset", sa.String(length=200), nullable=True),
        sa.Column("started_by", sa.String(length=320), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("report_path", sa.String(length=2000), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "status IN ('running', 'succeeded', 'failed', 'dry_run')",
            name=op.f("ck_import_run_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_run")),
    )
    op.create_index(op.f("ix_import_run_started_at"), "import_run", ["started_at"])
    op.create_index(op.f("ix_import_run_dataset"), "import_run", ["dataset"])
    op.create_table(
        "review_flag",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("record_table", sa.String(length=50), nullable=False),
        sa.Column("record_id", sa.Uuid(), nullable=False),
        sa.Column("reason", sa.String(length=50), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("import_run_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.String(length=320), nullable=True),
        sa.ForeignKeyConstraint(
            ["import_run_id"],
            ["import_run.id"],
            name=op.f("fk_review_flag_import_run_id_import_run"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_flag")),
    )
    op.create_index("ix_review_flag_record", "review_flag", ["record_table", "record_id"])
    op.create_index("ix_review_flag_open", "review_flag", ["resolved_at"])
    op.create_index(op.f("ix_review_flag_import_run_id"), "review_flag", ["import_run_id"])


def downgrade():
    op.drop_table("review_flag")
    op.drop_table("import_run")
