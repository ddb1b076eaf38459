"""member_sync_states.written_version: metafields written, tags may still wait

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("member_sync_states") as batch:
        batch.add_column(sa.Column("written_version", sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table("member_sync_states") as batch:
        batch.drop_column("written_version")
