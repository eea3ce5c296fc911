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
