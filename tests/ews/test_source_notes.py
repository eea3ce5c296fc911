"""What an item's iCalendar source says that Exchange cannot give back is declared
(connectors/ews/source_notes.py)."""

from __future__ import annotations

from cirahub.connectors.ews.source_notes import note_source
from cirahub.core.ical import parse_item


def _notes(extra: str) -> list[str]:
    text = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\n"
            "UID:n1\r\nDTSTAMP:20190303T154145Z\r\nDTSTART:20190319T030000Z\r\n"
            f"DURATION:PT3H\r\nSUMMARY:edited duration\r\n{extra}END:VEVENT\r\nEND:VCALENDAR\r\n")
    notes: list[str] = []
    note_source(parse_item(text), notes)
    return notes


def test_regression_empty_class_and_other_empty_values_are_declared() -> None:
    """Thunderbird writes 'CLASS:' (rie.duration_edited, three_events_one_edited): the copy
    has no CLASS, which was a difference no declaration covered."""
    assert _notes("CLASS:\r\n") == ["empty CLASS: not written"]
    assert _notes("TRANSP:\r\nSTATUS:\r\n") == ["empty STATUS: not written",
                                               "empty TRANSP: not written"]
    assert _notes("CLASS:PUBLIC\r\nTRANSP:OPAQUE\r\n") == []  # what their absence says


def test_regression_an_attendee_address_exchange_writes_otherwise_is_declared() -> None:
    """rie.issue_61_time_zone_error: Confluence writes its parameters inside the value and no
    mailto:; Exchange holds the address as the model reads it (mailto:, lower case)."""
    odd = "ATTENDEE:X-KEY=8a4a;CN=Dan:mailto:dlatham@apple.com\r\n"
    assert _notes(odd) == ["attendee address not given as mailto: in lower case: written so "
                           "(Exchange holds an e-mail address, whatever its case)"]
    assert _notes("ATTENDEE;CN=Bob:mailto:bob@example.com\r\n") == []
