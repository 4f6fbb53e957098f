"""proximity

The proximity steps of local presence (SPEC 3.3): the organization's and each project's
``proximity`` mapping (JSON; NULL: all off, or for a project the organization's), and a
project's ``local_only`` (off, refuse or principal).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01 22:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("orgs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("proximity", sa.JSON(), nullable=True))
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.add_column(sa.Column("proximity", sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column("local_only", sa.String(length=10), server_default="off", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.drop_column("local_only")
        batch_op.drop_column("proximity")
    with op.batch_alter_table("orgs", schema=None) as batch_op:
        batch_op.drop_column("proximity")
