"""reassigned numbers

A contact's consent date, and the reassigned-numbers lookups' answers (SPEC 10): was a
number permanently disconnected since the consent? (47 C.F.R. § 64.1200(m))

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-01 23:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from callsign.store.tables import UTCDateTime

revision: str = '0020'
down_revision: str | None = '0019'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('consented_on', sa.Date(), nullable=True))
    op.create_table(
        'reassigned_checks',
        sa.Column('org_id', sa.Integer(), nullable=False),
        sa.Column('number', sa.String(length=16), nullable=False),
        sa.Column('since', sa.Date(), nullable=False),
        sa.Column('answer', sa.String(length=8), nullable=False),
        sa.Column('checked_at', UTCDateTime(), nullable=False),
        sa.Column('source', sa.String(length=200), server_default='', nullable=False),
        sa.ForeignKeyConstraint(['org_id'], ['orgs.id'],
                                name=op.f('fk_reassigned_checks_org_id_orgs'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('org_id', 'number', name=op.f('pk_reassigned_checks')))


def downgrade() -> None:
    op.drop_table('reassigned_checks')
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.drop_column('consented_on')
