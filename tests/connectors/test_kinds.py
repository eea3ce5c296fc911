"""One registration per spoke kind: every consumer reads the same ``KIND`` values."""

from __future__ import annotations

import pytest

from cirahub.connectors.kinds import SecretSpec, all_kinds, by_pb_field, get_kind
from cirahub.control.convert import config_from_pb, config_to_pb
from cirahub.control.spoke_checks import check_spoke_input
from cirahub.core.errors import InvalidInput
from cirahub.proto.cirahub.control.v1 import control_pb2 as pb


def test_every_kind_is_discovered_from_its_module() -> None:
    assert {"vdir", "caldav", "ics-url", "ews-public-folder", "ews-mailbox", "memory"} <= set(
        all_kinds())


@pytest.mark.parametrize("name", sorted(all_kinds()))
def test_registration_matches_its_protobuf_message(name: str) -> None:
    kind = get_kind(name)
    oneof = {f.name for f in pb.SpokeConfig.DESCRIPTOR.oneofs_by_name["kind"].fields}
    assert kind.pb_field in oneof
    message = pb.SpokeConfig.DESCRIPTOR.fields_by_name[kind.pb_field].message_type
    assert {f.name for f in kind.fields} == {f.name for f in message.fields}
    assert by_pb_field(kind.pb_field) is kind


@pytest.mark.parametrize("name", sorted(all_kinds()))
def test_registration_references_resolve(name: str) -> None:
    kind = get_kind(name)
    assert callable(kind.load_factory())
    assert callable(kind.load_validator())
    hook = kind.load_discoverer()
    assert hook is None or callable(hook)


def test_ews_projection_is_what_its_connector_cannot_carry() -> None:
    from cirahub.connectors.ews import mapping

    for name in ("ews-public-folder", "ews-mailbox"):
        assert get_kind(name).projection.unsupported_fields == mapping.UNSUPPORTED


def test_graph_projection_is_what_its_connector_cannot_carry() -> None:
    from cirahub.connectors.graph import mapping

    assert get_kind("graph").projection.unsupported_fields == mapping.UNSUPPORTED
    assert "attendees" not in mapping.UNSUPPORTED  # carried, in the body (never as attendees)


def test_unknown_kind_names_the_known_ones() -> None:
    with pytest.raises(InvalidInput) as err:
        get_kind("exchange")
    assert "known kinds:" in err.value.message and "vdir" in err.value.message


def test_secret_rules() -> None:
    assert SecretSpec(always=True).needed({})
    assert not SecretSpec(always=True, unless=("certificate",)).needed({"certificate": "/k.pem"})
    assert SecretSpec(when=("username",)).needed({"username": "me"})
    assert not SecretSpec(when=("username",)).needed({})


def test_caldav_username_needs_password_from_registration() -> None:
    with pytest.raises(InvalidInput) as err:
        check_spoke_input("caldav", {"url": "https://dav.example.com/cal/", "username": "me"}, None)
    assert err.value.fields["field"] == "secret"
    assert check_spoke_input("caldav", {"url": "https://dav.example.com/cal/"}, None)["url"]


def test_protobuf_mapping_renames_and_inverts_through_registration() -> None:
    config = pb.SpokeConfig(ews_mailbox=pb.EwsMailboxConfig(
        server="https://mail.example.com/EWS/Exchange.asmx", username="svc", calendar="Team"))
    kind, stored = config_from_pb(config)
    assert kind == "ews-mailbox"
    assert stored == {"service_endpoint": "https://mail.example.com/EWS/Exchange.asmx",
                      "username": "svc", "folder": "Team"}
    assert config_to_pb(kind, stored) == config
    kind, stored = config_from_pb(pb.SpokeConfig(caldav=pb.CaldavConfig(
        url="https://x.example/", skip_tls_verify=True)))
    assert stored == {"url": "https://x.example/", "verify_tls": False}
    assert config_to_pb(kind, stored).caldav.skip_tls_verify is True


def test_graph_secret_rules() -> None:
    base = {"tenant": "contoso.onmicrosoft.com", "client_id": "0f3c1a2b-1111-4c4c-9d9d-123456789abc",
            "mailbox": "team@contoso.com"}
    with pytest.raises(InvalidInput) as err:
        check_spoke_input("graph", base, None)
    assert "client secret" in err.value.message
    assert check_spoke_input("graph", base, "s3cret")["mailbox"] == "team@contoso.com"
    # delegated: attached without a secret; `cirahubctl login` stores the refresh token
    assert check_spoke_input("graph", {**base, "auth": "oauth-delegated"}, None)["auth"] == "oauth-delegated"
    assert check_spoke_input("graph", {**base, "certificate": "/etc/cirahub/app.pem"}, None)


@pytest.mark.parametrize("name", sorted(all_kinds()))
def test_a_connection_check_caps_the_retries_of_the_kinds_registered_as_retrying(
        name: str) -> None:
    """The kinds whose connectors retry a busy server for ``max_retry_seconds`` say so in
    their registration; a connection check caps that budget for them and no other."""
    from cirahub.control.connection import CHECK_RETRY_SECONDS, _for_a_check

    kind = get_kind(name)
    assert kind.retry_bounded == (name in {"ews-public-folder", "ews-mailbox", "graph"})
    checked = _for_a_check(name, {"max_retry_seconds": 60.0})
    assert checked["max_retry_seconds"] == (CHECK_RETRY_SECONDS if kind.retry_bounded else 60.0)
