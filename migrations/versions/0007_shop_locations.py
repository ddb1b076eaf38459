"""shop_locations: Shopify location names by id; shops.locale: the language staff use the app in

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

from app.models.types import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "shop_locations",
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("location_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("checked_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("shop_id", "location_id"),
    )
    with op.batch_alter_table("shops") as batch:
        batch.add_column(sa.Column("locale", sa.String(length=8), nullable=True))


def downgrade():
    with op.batch_alter_table("shops") as batch:
        batch.drop_column("locale")
    op.drop_table("shop_locations")
