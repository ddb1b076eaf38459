"""shops.app_namespace: what Shopify resolves `$app` to in the shop, learned from Shopify

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("shops") as batch:
        batch.add_column(sa.Column("app_namespace", sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table("shops") as batch:
        batch.drop_column("app_namespace")
