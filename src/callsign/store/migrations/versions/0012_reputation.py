"""reputation labels

Every reading of a number's label by an analytics engine, with its history
(``number_labels``); the latest per engine is the current label.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 18:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from callsign.store.tables import UTCDateTime

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'number_labels',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('org_id', sa.Integer(), nullable=False),
        sa.Column('number_id', sa.Integer(), nullable=False),
        sa.Column('engine', sa.String(length=64), nullable=False),
        sa.Column('engine_key', sa.String(length=64), nullable=False),
        sa.Column('carrier', sa.String(length=64), nullable=True),
        sa.Column('label', sa.String(length=16), nullable=False),
        sa.Column('raw', sa.String(length=64), nullable=False),
        sa.Column('checked_at', UTCDateTime(), nullable=False),
        sa.Column('source', sa.String(length=64), nullable=False),
        sa.Column('recorded_at', UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['number_id'], ['numbers.id'],
                                name=op.f('fk_number_labels_number_id_numbers'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['org_id'], ['orgs.id'],
                                name=op.f('fk_number_labels_org_id_orgs'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_number_labels')),
        sa.UniqueConstraint('number_id', 'engine_key', 'checked_at',
                            name=op.f('uq_number_labels_number_id_engine_key_checked_at')))
    with op.batch_alter_table('number_labels', schema=None) as batch_op:
        batch_op.create_index('ix_number_labels_org_id_number_id_checked_at',
                              ['org_id', 'number_id', 'checked_at'], unique=False)


def downgrade() -> None:
    op.drop_table('number_labels')
