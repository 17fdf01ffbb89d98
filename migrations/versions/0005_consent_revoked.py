"""consent revoked: a cancel reason for the referrals a member's revoked consent stops

Revision ID: 0005_consent_revoked
Revises: 0004_outcome_reminders
Create Date: 2026-11-26 10:00:00.000000

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "0005_consent_revoked"
down_revision = "0004_outcome_reminders"
branch_labels = None
depends_on = None

CANCEL_REASONS_BEFORE = (
    "member_declined",
    "need_met_elsewhere",
    "unable_to_contact",
    "member_moved",
    "sent_in_error",
    "duplicate",
    "other",
)
CANCEL_REASONS_AFTER = (*CANCEL_REASONS_BEFORE, "consent_revoked")


def _replace_cancel_reason_check(values):
    # Batch mode: ALTER on PostgreSQL; on SQLite (which can't alter a CHECK) a copy of
    # `referral` replaces it. Dropping the old table would cascade to every event, message and
    # notice of a referral, so foreign keys are off meanwhile; the PRAGMA only works outside a
    # transaction, hence the autocommit blocks.
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        with op.get_context().autocommit_block():
            op.execute("PRAGMA foreign_keys = OFF")
    with op.batch_alter_table("referral", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_referral_cancel_reason"), type_="check")
        batch_op.create_check_constraint(
            batch_op.f("ck_referral_cancel_reason"),
            f"cancel_reason IS NULL OR cancel_reason IN ({', '.join(map(repr, values))})",
        )
    if sqlite:
        with op.get_context().autocommit_block():
            op.execute("PRAGMA foreign_keys = ON")


def upgrade():
    _replace_cancel_reason_check(CANCEL_REASONS_AFTER)


def downgrade():
    # The old check can't hold the new reason: those referrals become "other", with the words.
    op.execute(
        "UPDATE referral SET cancel_reason = 'other', "
        "cancel_text = COALESCE(cancel_text, 'The member revoked their consent.') "
        "WHERE cancel_reason = 'consent_revoked'"
    )
    op.execute(
        "UPDATE referral_event SET reason = 'other', "
        "note = COALESCE(note, 'The member revoked their consent.') "
        "WHERE reason = 'consent_revoked'"
    )
    _replace_cancel_reason_check(CANCEL_REASONS_BEFORE)
