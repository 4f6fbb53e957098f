"""number usage per day

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 08:30:00.000000

Daily usage moves from one (usage_day, usage_count) pair on each number to a row per
(number, day): a decision dated another day no longer resets the day's count.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('number_usage',
    sa.Column('number_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.String(length=10), nullable=False),
    sa.Column('used', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['number_id'], ['numbers.id'], name=op.f('fk_number_usage_number_id_numbers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('number_id', 'day', name=op.f('pk_number_usage'))
    )
    op.execute("""
        INSERT INTO number_usage (number_id, day, used)
        SELECT id, usage_day, usage_count FROM numbers
        WHERE usage_day IS NOT NULL AND usage_count > 0""")
    # A plain DROP COLUMN (SQLite >= 3.35): a batch copy of the table would drop the
    # trigger that mirrors numbers into number_area_codes.
    op.execute("ALTER TABLE numbers DROP COLUMN usage_day")
    op.execute("ALTER TABLE numbers DROP COLUMN usage_count")


def downgrade() -> None:
    op.execute("ALTER TABLE numbers ADD COLUMN usage_day VARCHAR(10)")
    op.execute("ALTER TABLE numbers ADD COLUMN usage_count INTEGER DEFAULT '0' NOT NULL")
    # Each number keeps its latest day's count, all the old columns could hold.
    op.execute("""
        UPDATE numbers SET
            usage_day = (SELECT max(u.day) FROM number_usage u WHERE u.number_id = numbers.id),
            usage_count = COALESCE((SELECT u.used FROM number_usage u
                                    WHERE u.number_id = numbers.id
                                    ORDER BY u.day DESC LIMIT 1), 0)""")
    op.drop_table('number_usage')
