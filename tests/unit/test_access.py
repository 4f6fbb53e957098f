"""How an API key is read: from its text, from an Authorization header, by its id."""

from __future__ import annotations

import base64

import pytest

from callsign.domain.errors import Unauthorized
from callsign.services.access import ApiKey, key_id, key_in_header

KEY = "cs_0a1b2c3d4e5f_s3cr_et-with_underscores"


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_a_key_reads_as_its_public_id_and_its_secret() -> None:
    """The secret may itself hold underscores: only the first two separate."""
    key = ApiKey.parse(KEY)
    assert (key.id, key.secret) == ("0a1b2c3d4e5f", "s3cr_et-with_underscores")
    assert str(key) == KEY


@pytest.mark.parametrize("text", ["", "cs", "cs_id", "xx_id_secret", "CS_id_secret"])
def test_text_without_a_keys_shape_is_malformed(text: str) -> None:
    with pytest.raises(Unauthorized, match="malformed"):
        ApiKey.parse(text)


@pytest.mark.parametrize("header", [f"Bearer {KEY}", f"bearer   {KEY}  ", _basic("", KEY),
                                    _basic("kamailio", KEY)])
def test_the_key_comes_as_a_bearer_token_or_a_basic_password(header: str) -> None:
    assert key_in_header(header) == KEY


@pytest.mark.parametrize("header", ["", KEY, f"Token {KEY}", "Bearer ", "Bearer   ",
                                    "Basic !!!", _basic("kamailio", ""),
                                    "Basic " + base64.b64encode(b"\xff:\xfe").decode()])
def test_a_header_without_a_key_asks_for_one(header: str) -> None:
    with pytest.raises(Unauthorized, match="Bearer KEY") as raised:
        key_in_header(header)
    assert raised.value.field == "Authorization"


def test_a_key_is_named_by_its_id_or_given_whole() -> None:
    assert key_id("0a1b2c3d4e5f") == key_id(KEY) == "0a1b2c3d4e5f"
