"""The tenant of a request on a non-chat route (Responses side routes, batch pass-through)
is derived by the same rules as on the chat routes, so a create and its later retrieve are
booked and checked under the same tenant whatever key headers the app sends."""

from __future__ import annotations

import pytest

from thrifty.errors import BadRequest
from thrifty.gateway.headers import app_key, tenant_from_headers
from thrifty.runtime import tenant_of

HEADER = "X-Thrifty-Tenant"


def test_bearer_token_or_whole_value() -> None:
    assert app_key(b"Bearer sk-abc ") == b"sk-abc"
    assert app_key(b"bearer sk-abc") == b"sk-abc"
    assert app_key(b" sk-plain ") == b"sk-plain"
    assert app_key(b"Basic dXNlcjpw") == b"Basic dXNlcjpw"


def test_the_named_tenant_wins_over_any_key() -> None:
    raw = [(b"authorization", b"Bearer sk-1"), (b"x-thrifty-tenant", b"team-a")]
    assert tenant_from_headers(raw, HEADER) == "team-a"


def test_a_key_fingerprint_when_no_tenant_is_named() -> None:
    assert tenant_from_headers([(b"x-api-key", b"sk-2")], HEADER) == tenant_of(None, "sk-2")
    assert tenant_from_headers([], HEADER) is None


def test_both_key_headers_the_last_one_read_wins_as_on_chat_routes() -> None:
    """Before, the side routes took Authorization whenever it was Bearer and x-api-key
    otherwise, while the chat routes took the last of the two: a create and its retrieve
    sent with both headers could land under different tenants (and a 404)."""
    both = [(b"authorization", b"Bearer sk-first"), (b"x-api-key", b"sk-last")]
    assert tenant_from_headers(both, HEADER) == tenant_of(None, "sk-last")
    basic = [(b"authorization", b"Basic dXNlcjpw")]
    assert tenant_from_headers(basic, HEADER) == tenant_of(None, "Basic dXNlcjpw")


def test_a_bad_tenant_name_is_a_400() -> None:
    with pytest.raises(BadRequest):
        tenant_from_headers([(b"x-thrifty-tenant", b"no spaces\tor tabs")], HEADER)
