"""smaregi_settings: sync toggles on the connection, single-use authorisation states

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

from app.models.types import UTCDateTime

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    with op.batch_alter_table("smaregi_connections") as batch:
        batch.add_column(sa.Column("import_sales", sa.Boolean(), nullable=False, server_default=sa.true()))
        batch.add_column(sa.Column("register_points", sa.Boolean(), nullable=False, server_default=sa.true()))
    op.create_table(
        "smaregi_auth_states",
        sa.Column("id", BIGINT, nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("state_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f("fk_smaregi_auth_states_shop_id_shops"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_smaregi_auth_states")),
        sa.UniqueConstraint("state_hash", name=op.f("uq_smaregi_auth_states_state_hash")),
    )
    with op.batch_alter_table("smaregi_auth_states") as batch:
        batch.create_index("ix_smaregi_auth_states_expires", ["expires_at"], unique=False)


def downgrade():
    with op.batch_alter_table("smaregi_auth_states") as batch:
        batch.drop_index("ix_smaregi_auth_states_expires")
    op.drop_table("smaregi_auth_states")
    with op.batch_alter_table("smaregi_connections") as batch:
        batch.drop_column("register_points")
        batch.drop_column("import_sales")
