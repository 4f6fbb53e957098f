"""volume shaping

Each number's last presentations, newest first, as fixed-width microseconds since the epoch
(``store.calls``): the claim counts a number's presentations in the last minute and hour
on the number's own row, in the statement that takes it, so that concurrent claims can
never together pass the per-minute and per-hour limits (SPEC 9).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 18:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('numbers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('recent_presentations', sa.Text(), nullable=False,
                                      server_default=''))


def downgrade() -> None:
    with op.batch_alter_table('numbers', schema=None) as batch_op:
        batch_op.drop_column('recent_presentations')
