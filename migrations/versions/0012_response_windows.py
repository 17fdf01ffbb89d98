"""response windows by urgency: emergencies in clock hours, urgent referrals in business days

Revision ID: 0012_response_windows
Revises: 0011_referral_links
Create Date: 2026-12-04 21:30:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0012_response_windows"
down_revision = "0011_referral_links"
branch_labels = None
depends_on = None

TABLE = "network_organization"
# column -> (its CHECK constraint's name, lowest, highest, the value existing agencies get)
COLUMNS = {
    "emergency_window_hours": ("ck_network_organization_emergency_window", 1, 72, 4),
    "urgent_window_business_days": ("ck_network_organization_urgent_window", 1, 10, 1),
}


def upgrade():
    sqlite = op.get_bind().dialect.name == "sqlite"
    for column, (check, low, high, default) in COLUMNS.items():
        condition = f"{column} BETWEEN {low} AND {high}"
        if sqlite:
            # SQLite can't add a CHECK to a table, only with a new column; a batch would copy the
            # table and drop the old one, which (foreign keys on) reaches users and referrals.
            op.execute(
                f"ALTER TABLE {TABLE} ADD COLUMN {column} INTEGER DEFAULT {default} NOT NULL "
                f"CONSTRAINT {check} CHECK ({condition})"
            )
        else:
            op.add_column(
                TABLE,
                sa.Column(column, sa.Integer(), server_default=str(default), nullable=False),
            )
            op.create_check_constraint(op.f(check), TABLE, condition)


def downgrade():
    # The CHECK belongs to its column, so dropping the column drops it too (SQLite 3.35+ in
    # place; PostgreSQL with the column).
    for column in reversed(COLUMNS):
        op.drop_column(TABLE, column)
