"""Issue 13 acceptance: the CalDAV XML reader is safe whatever the expat version — entity
declarations (billion laughs) and external entities are refused with a message."""

from __future__ import annotations

import pytest

from cirahub.connectors.caldav.dav import error_conditions, parse_multistatus
from cirahub.core.errors import ProtocolError

LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE m [<!ENTITY a "lol"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>
<d:multistatus xmlns:d="DAV:"><d:response><d:href>/&d;</d:href></d:response></d:multistatus>"""

EXTERNAL = b"""<?xml version="1.0"?>
<!DOCTYPE m [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<d:multistatus xmlns:d="DAV:"><d:response><d:href>/&x;</d:href></d:response></d:multistatus>"""


@pytest.mark.parametrize("body", [LAUGHS, EXTERNAL], ids=["billion-laughs", "external-entity"])
def test_regression_dav_xml_entities_refused(body: bytes):
    with pytest.raises(ProtocolError, match="entity declarations") as err:
        parse_multistatus(body, "REPORT")
    assert "root:" not in err.value.message
    assert error_conditions(body) == frozenset()


def test_plain_multistatus_still_reads():
    ok = parse_multistatus(b'<d:multistatus xmlns:d="DAV:"><d:response><d:href>/a.ics</d:href>'
                           b'</d:response><d:sync-token>t1</d:sync-token></d:multistatus>')
    assert [r.href for r in ok.responses] == ["/a.ics"] and ok.sync_token == "t1"


def test_regression_large_multistatus_is_parsed_incrementally():
    """A 20 MB multistatus of responses whose (large) properties are not kept: the reader
    holds one response's subtree at a time, not the whole tree (bytes counted by
    tracemalloc, the body itself allocated before counting starts)."""
    import tracemalloc

    filler = "x" * 900
    body = ('<d:multistatus xmlns:d="DAV:">' + "".join(
        f'<d:response><d:href>/c/{i}.ics</d:href><d:propstat><d:prop><d:comment>{filler}'
        '</d:comment></d:prop><d:status>HTTP/1.1 404 Not Found</d:status></d:propstat>'
        '</d:response>' for i in range(20_000)) + "<d:sync-token>t9</d:sync-token>"
        "</d:multistatus>").encode()
    assert len(body) > 20_000_000
    tracemalloc.start()
    try:
        parsed = parse_multistatus(body, "REPORT")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(parsed.responses) == 20_000 and parsed.sync_token == "t9"
    assert all(not r.props for r in parsed.responses)
    assert peak < len(body) // 4, f"peak {peak} bytes for a {len(body)} byte answer"
