"""organization configuration markers

A change marker per organization, "org:<id>", bumped by triggers in the same transaction
as any change to what each worker keeps of the organization in memory (its settings,
users, projects and their pools, its numbers' identity): a decision reads the marker to
know its copy is current. Triggers, so that no write path (the org file, the REST API,
the admin, the CLI, a hand-made UPDATE) can forget. A marker only ever grows, also when
its organization is deleted, so an id SQLite hands out again never meets an old copy.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 14:50:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, the expression of a row's organization id, given the row as NEW or OLD)
_WATCHED = (
    ('orgs', '{row}.id'),
    ('users', '{row}.org_id'),
    ('projects', '{row}.org_id'),
    ('project_numbers', '(SELECT p.org_id FROM projects p WHERE p.id = {row}.project_id)'),
    ('numbers', '{row}.org_id'),
)
# Of numbers, only what the copy holds (the pool's E.164); not the claims' updates.
_NUMBER_UPDATE = 'UPDATE OF e164, org_id'


def upgrade() -> None:
    op.execute("INSERT INTO change_markers (name, version) "
               "SELECT 'org:' || CAST(id AS VARCHAR(20)), 1 FROM orgs")
    if op.get_bind().dialect.name == 'postgresql':
        _postgresql_triggers()
    else:
        _sqlite_triggers()


def _sqlite_bump(org: str) -> str:
    marker = f"'org:' || CAST({org} AS TEXT)"
    return (f"INSERT OR IGNORE INTO change_markers (name, version) "
            f"SELECT {marker}, 0 WHERE {org} IS NOT NULL; "
            f"UPDATE change_markers SET version = version + 1 WHERE name = {marker};")


def _sqlite_triggers() -> None:
    for table, org in _WATCHED:
        for event, rows in (('INSERT', ('NEW',)), ('DELETE', ('OLD',)),
                            ('UPDATE', ('OLD', 'NEW'))):
            when = _NUMBER_UPDATE if table == 'numbers' and event == 'UPDATE' else event
            if table == 'numbers' and event == 'INSERT':
                continue  # a new number is in no pool yet
            body = ' '.join(_sqlite_bump(org.format(row=row)) for row in rows)
            op.execute(f"CREATE TRIGGER {table}_{event.lower()}_org_config "
                       f"AFTER {when} ON {table} FOR EACH ROW BEGIN {body} END")


def _postgresql_triggers() -> None:
    op.execute("""
        CREATE FUNCTION bump_org_config() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            org_ids bigint[] := '{}';
            changed jsonb;
            org bigint;
        BEGIN
            FOREACH changed IN ARRAY ARRAY[
                    CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) END,
                    CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) END] LOOP
                CONTINUE WHEN changed IS NULL;
                IF TG_ARGV[0] = 'project_id' THEN
                    org := (SELECT p.org_id FROM projects p
                            WHERE p.id = CAST(changed ->> 'project_id' AS bigint));
                ELSE
                    org := CAST(changed ->> TG_ARGV[0] AS bigint);
                END IF;
                IF org IS NOT NULL AND NOT org = ANY(org_ids) THEN
                    org_ids := org_ids || org;
                    INSERT INTO change_markers (name, version) VALUES ('org:' || org, 1)
                    ON CONFLICT (name) DO UPDATE SET version = change_markers.version + 1;
                END IF;
            END LOOP;
            RETURN NULL;
        END $$""")
    columns = {'orgs': 'id', 'project_numbers': 'project_id'}
    for table, _ in _WATCHED:
        events = ('INSERT OR UPDATE OR DELETE' if table != 'numbers'
                  else f'{_NUMBER_UPDATE} OR DELETE')
        op.execute(f"CREATE TRIGGER {table}_org_config AFTER {events} ON {table} "
                   f"FOR EACH ROW EXECUTE FUNCTION bump_org_config("
                   f"'{columns.get(table, 'org_id')}')")


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        for table, _ in _WATCHED:
            op.execute(f"DROP TRIGGER {table}_org_config ON {table}")
        op.execute("DROP FUNCTION bump_org_config()")
    else:
        for table, _ in _WATCHED:
            for event in ('insert', 'delete', 'update'):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_{event}_org_config")
    op.execute("DELETE FROM change_markers WHERE name LIKE 'org:%'")
