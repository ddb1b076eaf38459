"""smaregi_register_balance: per-link pushed version and expiry, register point usage, member export toggle

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("smaregi_connections") as batch:
        batch.add_column(sa.Column("export_members", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("smaregi_transactions") as batch:
        batch.add_column(sa.Column("spend_points", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("smaregi_customers") as batch:
        batch.add_column(sa.Column("pushed_expires_on", sa.Date(), nullable=True))
        batch.add_column(sa.Column("pushed_version", sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table("smaregi_customers") as batch:
        batch.drop_column("pushed_version")
        batch.drop_column("pushed_expires_on")
    with op.batch_alter_table("smaregi_transactions") as batch:
        batch.drop_column("spend_points")
    with op.batch_alter_table("smaregi_connections") as batch:
        batch.drop_column("export_members")
