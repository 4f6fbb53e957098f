"""SPEC 8: API keys through the command line.

A key belongs to one organization, is shown once, is stored hashed, and stops working
the moment it is revoked.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from sqlalchemy import Engine, select

from callsign.domain.errors import Unauthorized
from callsign.services import access
from callsign.store.tables import api_keys, orgs

Invoke = Callable[..., Result]
ApplyOrg = Callable[[dict[str, object] | str], None]

KEY = re.compile(r"cs_([0-9a-f]{12})_([A-Za-z0-9_-]{32})")
GLOBEX: dict[str, Any] = {"org": "globex", "principal_number": "+16175550100",
          "numbers": [{"number": "+16175550100"}]}


@pytest.fixture
def orgs_applied(apply_org: ApplyOrg, demo_yaml: str) -> None:
    """acme (the demo organization) and globex."""
    apply_org(demo_yaml)
    apply_org(GLOBEX)


def ok(result: Result) -> str:
    """The command succeeded and wrote nothing on stderr; its stdout."""
    assert (result.exit_code, result.stderr) == (0, ""), result.stderr
    return result.stdout


def parts(key: str) -> tuple[str, str]:
    """A key's public id and its secret."""
    matched = KEY.fullmatch(key)
    assert matched is not None, key
    return matched.group(1), matched.group(2)


def create(cli: Invoke, org: str, *options: str) -> str:
    """`keys create`: one line, the key."""
    out = ok(cli("keys", "create", "--org", org, *options))
    assert out.endswith("\n")
    assert out.count("\n") == 1
    return out.strip()


def authenticate(engine: Engine, key: str) -> str:
    """The slug of the organization the key authenticates as."""
    with engine.connect() as conn:
        _, slug = access.authenticate(conn, key)
    return slug


def org_id(engine: Engine, slug: str) -> int:
    with engine.connect() as conn:
        found: int = conn.execute(select(orgs.c.id).where(orgs.c.slug == slug)).scalar_one()
    return found


@pytest.mark.usefixtures("orgs_applied")
def test_a_created_key_authenticates_as_its_organization(cli: Invoke, engine: Engine) -> None:
    """The printed key has the form cs_<id>_<secret> and signs in as its organization."""
    acme_key, globex_key = create(cli, "acme"), create(cli, "globex")

    parts(acme_key)
    parts(globex_key)
    with engine.connect() as conn:
        assert access.authenticate(conn, acme_key) == (org_id(engine, "acme"), "acme")
        assert access.authenticate(conn, globex_key) == (org_id(engine, "globex"), "globex")


@pytest.mark.usefixtures("orgs_applied")
def test_every_key_is_new(cli: Invoke) -> None:
    """Each `keys create` makes a key with an id and secret of its own."""
    made = [create(cli, "acme") for _ in range(3)]

    assert len(set(made)) == 3
    assert len({parts(k)[0] for k in made}) == 3


@pytest.mark.usefixtures("orgs_applied")
def test_keys_list_shows_ids_names_and_state_but_no_secret(cli: Invoke) -> None:
    """One line per key of that organization: its id, active or revoked, its name."""
    crm = create(cli, "acme", "--name", "crm")
    dialer = create(cli, "acme", "--name", "dialer")
    other = create(cli, "globex", "--name", "theirs")
    ok(cli("keys", "revoke", "--org", "acme", dialer))

    listed = ok(cli("keys", "list", "--org", "acme")).splitlines()

    crm_id, dialer_id = parts(crm)[0], parts(dialer)[0]
    assert len(listed) == 2
    assert listed[0].startswith(f"{crm_id}  active")
    assert listed[0].endswith("crm")
    assert listed[1].startswith(f"{dialer_id}  revoked ")
    assert listed[1].endswith("dialer")
    for key in (crm, dialer, other):
        assert parts(key)[1] not in "\n".join(listed)
    assert parts(other)[0] not in "\n".join(listed)


@pytest.mark.usefixtures("orgs_applied")
@pytest.mark.parametrize("named_by", ["the whole key", "its id"])
def test_a_revoked_key_stops_authenticating(cli: Invoke, engine: Engine, named_by: str) -> None:
    """Revoked by the whole key or by its id: Unauthorized at once, saying it was revoked."""
    key = create(cli, "acme")
    kept = create(cli, "acme")
    assert authenticate(engine, key) == "acme"
    key_id = parts(key)[0]

    revoked = ok(cli("keys", "revoke", "--org", "acme",
                     key if named_by == "the whole key" else key_id))

    assert key_id in revoked
    with pytest.raises(Unauthorized, match="revoked") as refused:
        authenticate(engine, key)
    assert refused.value.field == "Authorization"
    assert authenticate(engine, kept) == "acme"


@pytest.mark.usefixtures("orgs_applied")
def test_a_key_cannot_be_revoked_through_another_organization(
    cli: Invoke, engine: Engine
) -> None:
    """globex cannot revoke acme's key: not found (exit 3), and the key still works."""
    key = create(cli, "acme")

    result = cli("keys", "revoke", "--org", "globex", key)

    assert result.exit_code == 3
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1
    assert authenticate(engine, key) == "acme"


@pytest.mark.usefixtures("orgs_applied")
def test_revoking_twice_or_an_unknown_key_is_not_found(cli: Invoke) -> None:
    """Only an active key of the organization can be revoked (exit 3)."""
    key = create(cli, "acme")
    ok(cli("keys", "revoke", "--org", "acme", key))

    again = cli("keys", "revoke", "--org", "acme", key)
    unknown = cli("keys", "revoke", "--org", "acme", "cs_000000000000_x")

    assert (again.exit_code, unknown.exit_code) == (3, 3)
    assert "no active key" in again.stderr


@pytest.mark.usefixtures("orgs_applied")
def test_a_key_for_an_unknown_organization_is_not_created(cli: Invoke, engine: Engine) -> None:
    """No organization, no key: exit 3 and nothing stored."""
    result = cli("keys", "create", "--org", "initech")

    assert result.exit_code == 3
    assert result.stdout == ""
    assert "initech" in result.stderr
    with engine.connect() as conn:
        assert conn.execute(select(api_keys)).all() == []


@pytest.mark.usefixtures("orgs_applied")
@pytest.mark.parametrize(("forge", "says"), [
    (lambda key: key[:-1] + ("A" if key[-1] != "A" else "B"), "not valid"),
    (lambda key: "cs_000000000000_" + key.split("_", 2)[2], "not valid"),
    (lambda key: key.replace("cs_", "sk_", 1), "malformed"),
    (lambda key: "_".join(key.split("_", 2)[:2]), "malformed"),
    (lambda _key: "", "malformed"),
])
def test_a_forged_key_does_not_authenticate(
    cli: Invoke, engine: Engine, forge: Callable[[str], str], says: str
) -> None:
    """A changed secret, an unknown id or a malformed key is Unauthorized."""
    key = create(cli, "acme")

    with pytest.raises(Unauthorized, match=says):
        authenticate(engine, forge(key))


@pytest.mark.usefixtures("orgs_applied")
def test_keys_are_stored_hashed(cli: Invoke, engine: Engine) -> None:
    """The stored row holds the key's id, name and a digest; never its secret."""
    key = create(cli, "acme", "--name", "crm")
    key_id, secret = parts(key)

    with engine.connect() as conn:
        rows = conn.execute(select(api_keys)).all()

    assert [(r.id, r.name) for r in rows] == [(key_id, "crm")]
    assert all(secret not in str(value) for value in rows[0])
    assert re.fullmatch(r"[0-9a-f]{64}", rows[0].secret_hash)


@pytest.mark.sqlite_only
@pytest.mark.usefixtures("orgs_applied")
def test_no_secret_is_anywhere_in_the_database_file(
    cli: Invoke, engine: Engine, db_url: str
) -> None:
    """Not in a table, an index, the journal or a free page of the SQLite file."""
    key_id, secret = parts(create(cli, "acme"))

    engine.dispose()  # close, so every page is on disk
    stored = b"".join(p.read_bytes() for p in Path(db_url.removeprefix("sqlite:///")).parent
                      .glob("t.db*"))

    assert key_id.encode() in stored  # the file was read: the public id is there
    assert secret.encode() not in stored
