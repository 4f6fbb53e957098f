"""change markers

A counter per kind of change, bumped in the same transaction as the change: the workers
poll the "api_keys" one to keep their keys in memory current.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 12:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    markers = op.create_table(
        'change_markers',
        sa.Column('name', sa.String(length=32), nullable=False),
        sa.Column('version', sa.Integer(), server_default='0', nullable=False),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_change_markers')))
    op.bulk_insert(markers, [{'name': 'api_keys', 'version': 0}])


def downgrade() -> None:
    op.drop_table('change_markers')
