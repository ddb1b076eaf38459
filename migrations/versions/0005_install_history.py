"""shops.shopify_shop_id: Shopify's numeric shop id, checked against compliance webhook bodies

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("shops") as batch:
        batch.add_column(sa.Column("shopify_shop_id", sa.String(length=32), nullable=True))


def downgrade():
    with op.batch_alter_table("shops") as batch:
        batch.drop_column("shopify_shop_id")
