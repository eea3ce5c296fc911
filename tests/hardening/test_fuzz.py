"""Issue 13 acceptance: fuzzing the iCalendar reader and the CalDAV XML reader.

Every generated input is either read or rejected with the reader's error and a message
(MalformedItem for iCalendar, ProtocolError for XML); any other exception is a crash and
fails the test with the input that caused it. Each input's recurrence work is bounded by
counting dateutil's loop steps (the probe of ``test_recurrence_bounds``), not by time.

A bounded number of inputs runs with the tests (``CIRAHUB_FUZZ_EXAMPLES``, default 150 per
reader); ``make fuzz`` runs many more.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings

from cirahub.core import expansion

from .fuzz import MalformedItem, ProtocolError, dav_bodies, ical_texts, read_dav, read_ical
from .test_recurrence_bounds import StepProbe

EXAMPLES = int(os.environ.get("CIRAHUB_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=EXAMPLES <= 150,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                       HealthCheck.function_scoped_fixture])
#: dateutil steps one input may cost: a few rules (3 events, overrides) at the bound each
STEPS_PER_INPUT = 40 * expansion.MAX_STEPS


@FUZZ
@given(text=ical_texts())
def test_fuzz_ical_reader_reads_or_rejects_with_a_message(
        text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    probe = StepProbe(STEPS_PER_INPUT)
    with monkeypatch.context() as patch:
        probe.install(patch)
        try:
            read_ical(text)
        except MalformedItem as exc:
            assert exc.message.strip(), repr(text)


@FUZZ
@given(body=dav_bodies())
def test_fuzz_caldav_xml_reader_reads_or_rejects_with_a_message(body: bytes) -> None:
    try:
        read_dav(body)
    except ProtocolError as exc:
        assert exc.message.strip(), repr(body)
