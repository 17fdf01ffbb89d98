"""audit denied: a refused read of another organization's record is an audit action

Revision ID: 0008_audit_denied
Revises: 0007_rate_limits
Create Date: 2026-12-04 20:05:00.000000

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "0008_audit_denied"
# Chained on 0006: 0007_rate_limits (another branch) re-chains this when both are merged.
down_revision = "0007_rate_limits"
branch_labels = None
depends_on = None

ACTIONS_BEFORE = (
    "view",
    "create",
    "update",
    "delete",
    "export",
    "send",
    "accept",
    "decline",
    "cancel",
    "forward",
    "complete",
    "message",
    "revoke",
)
ACTIONS_AFTER = (*ACTIONS_BEFORE, "denied")


def _replace_action_check(values):
    # Batch mode: ALTER on PostgreSQL, a copy of the table on SQLite (nothing references it).
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_audit_log_action"), type_="check")
        batch_op.create_check_constraint(
            batch_op.f("ck_audit_log_action"), f"action IN ({', '.join(map(repr, values))})"
        )


def upgrade():
    _replace_action_check(ACTIONS_AFTER)


def downgrade():
    op.execute("DELETE FROM audit_log WHERE action = 'denied'")
    _replace_action_check(ACTIONS_BEFORE)
