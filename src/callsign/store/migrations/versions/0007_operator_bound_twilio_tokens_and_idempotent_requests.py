"""operator-bound twilio tokens and idempotent requests

The organization no longer names the environment variable of its Twilio auth token: the
column goes (the server derives CALLSIGN_TWILIO_TOKEN_<ORG>, or reads the operator's
CALLSIGN_TWILIO_SECRETS file). Each organization that had one is logged with the
variable that now holds its token. idempotent_requests keeps the answers of requests
sent with an Idempotency-Key and of Twilio webhooks, by CallSid.

Revision ID: 0007
Revises: 0005
Create Date: 2026-12-01 09:00:00.000000
"""

import logging
import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import callsign.store.tables

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger("alembic.runtime.migration")


def upgrade() -> None:
    bound = op.get_bind().execute(sa.text(
        "SELECT slug, twilio_auth_token_env FROM orgs "
        "WHERE twilio_auth_token_env IS NOT NULL ORDER BY slug")).all()
    for slug, old in bound:
        variable = "CALLSIGN_TWILIO_TOKEN_" + re.sub(r"[^A-Z0-9]", "_", slug.upper())
        log.warning("organization %s: its Twilio auth token is no longer read from %s, "
                    "which the organization named; the operator binds it as %s or in the "
                    "CALLSIGN_TWILIO_SECRETS file", slug, old, variable)
    # Not a batch (copy-and-rename) on SQLite: dropping the old orgs table would cascade
    # to every table that references it. SQLite drops a plain column in place.
    op.drop_column('orgs', 'twilio_auth_token_env')

    op.create_table('idempotent_requests',
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('route', sa.String(length=64), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('response', sa.JSON(), nullable=True),
    sa.Column('created_at', callsign.store.tables.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], name=op.f('fk_idempotent_requests_org_id_orgs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('org_id', 'route', 'key', name=op.f('pk_idempotent_requests'))
    )


def downgrade() -> None:
    op.drop_table('idempotent_requests')
    op.add_column('orgs', sa.Column('twilio_auth_token_env', sa.String(length=128),
                                    nullable=True))
