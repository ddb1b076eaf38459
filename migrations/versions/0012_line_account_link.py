"""line_account_link: nonces for LINE's account-link flow, customers tagged `line` by LINE CRM apps

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

from app.models.types import UTCDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    op.create_table(
        "line_link_nonces",
        sa.Column("id", BIGINT, nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("nonce_hash", sa.String(length=64), nullable=False),
        sa.Column("shopify_customer_id", sa.String(length=32), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f("fk_line_link_nonces_shop_id_shops"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_line_link_nonces")),
        sa.UniqueConstraint("nonce_hash", name=op.f("uq_line_link_nonces_nonce_hash")),
    )
    with op.batch_alter_table("line_link_nonces") as batch:
        batch.create_index("ix_line_link_nonces_expires", ["expires_at"], unique=False)
    op.create_table(
        "line_tagged_customers",
        sa.Column("id", BIGINT, nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("shopify_customer_id", sa.String(length=32), nullable=False),
        sa.Column("seen_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f("fk_line_tagged_customers_shop_id_shops"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_line_tagged_customers")),
        sa.UniqueConstraint(
            "shop_id",
            "shopify_customer_id",
            name=op.f("uq_line_tagged_customers_shop_id_shopify_customer_id"),
        ),
    )


def downgrade():
    op.drop_table("line_tagged_customers")
    with op.batch_alter_table("line_link_nonces") as batch:
        batch.drop_index("ix_line_link_nonces_expires")
    op.drop_table("line_link_nonces")
