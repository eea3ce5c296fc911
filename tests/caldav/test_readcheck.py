"""The read-back's cheap first look (connectors/caldav/readcheck.py) against the exact one.

Differential: whatever :func:`readcheck.same_lines` says, :func:`readcheck.changes` must be
what :func:`readback.rewrites` (two reads by the reference reader) says, for texts
re-spelled as a server does (properties, parameters and subcomponents re-ordered, lines
re-folded: what vobject writes, so Radicale), and for texts really changed. And the
benchmark's events, as Radicale stores them, take the cheap path.
"""

from __future__ import annotations

import random
import warnings
from collections.abc import Callable

import pytest
import vobject
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.calendars import event_text, uid_of
from cirahub.connectors.caldav import readback, readcheck
from cirahub.core.ical_fast import content_lines
from tests.core.fast_texts import calendar_texts
from tests.corpus import corpus


def _respelled(text: str, rng: random.Random) -> str:
    """``text`` as a server that re-orders and re-folds might store it: per component its
    lines and its subcomponents shuffled, each line's parameters shuffled, folded anew."""
    lines = content_lines(text)
    stack: list[tuple[str, list[str], list[list[str]]]] = [("", [], [])]
    for line in lines:
        if line.startswith("BEGIN:"):
            stack.append((line, [], []))
        elif line.startswith("END:") and len(stack) > 1:
            begin, own, subs = stack.pop()
            rng.shuffle(own)
            rng.shuffle(subs)
            stack[-1][2].append([begin, *own, *(x for sub in subs for x in sub), line])
        else:
            stack[-1][1].append(_shuffled_params(line, rng))
    out = [*stack[0][1], *(x for sub in stack[0][2] for x in sub)]
    return "".join(_folded(line, rng) + "\r\n" for line in out)


def _shuffled_params(line: str, rng: random.Random) -> str:
    match = readcheck._WITH_PARAMS.match(line)
    if match is None:
        return line
    params = readcheck._PARAM.findall(match.group(2))
    rng.shuffle(params)
    return match.group(1) + "".join(f";{n}={v}" for n, v in params) + ":" + line[match.end():]


def _folded(line: str, rng: random.Random) -> str:
    width = rng.choice([30, 45, 75, 200])
    parts = [line[i:i + width] for i in range(0, len(line), width)] or [""]
    return "\r\n ".join(parts)


def _answer(compare: Callable[[str, str], tuple[str, ...]], sent: str, stored: str,
            ) -> tuple[str, ...]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return compare(sent, stored)


def _check(sent: str, stored: str) -> bool:
    """Whether the cheap path answered; either way the answer is the exact one."""
    exact = _answer(readback.rewrites, sent, stored)
    same = readcheck.same_lines(sent, stored)
    assert _answer(readcheck.changes, sent, stored) == (() if same else exact)
    assert not same or exact == ()
    return same


def test_the_benchmark_events_as_radicale_stores_them_take_the_cheap_path() -> None:
    for i in range(60):
        sent = event_text(uid_of(i), i)
        stored = vobject.readOne(sent).serialize()
        assert sent != stored  # re-spelled, so the cheap path has something to do
        assert _check(sent, stored)
        assert _check(sent, stored.replace("DTSTAMP:20261101T080000Z", "DTSTAMP:20270101T000000Z"))


def test_a_changed_value_or_a_lost_line_is_left_to_the_exact_comparison() -> None:
    sent = event_text(uid_of(1), 1)
    stored = vobject.readOne(sent).serialize()
    for changed in (stored.replace("Team meeting 1", "Team meeting 2"),
                    stored.replace("X-BENCH-INDEX:1\r\n", ""),
                    stored.replace("TRIGGER:-PT15M", "TRIGGER:-PT16M"),
                    stored.replace("BEGIN:VALARM", "BEGIN:VALARM\r\nX-MORE:1")):
        assert not _check(sent, changed)
        assert readcheck.changes(sent, changed) != ()


@pytest.mark.parametrize("odd", [
    "UID:bench-000001@example.com\r\n",  # a second UID line: which one a reader takes
    "TZID:Europe/Paris\r\n",  # inside the VEVENT: twice once the zone's is counted
])
def test_a_line_a_reader_takes_once_given_twice_is_not_compared_order_free(odd: str) -> None:
    sent = event_text(uid_of(1), 1).replace("SEQUENCE:0\r\n", "SEQUENCE:0\r\n" + odd * 2)
    assert not readcheck.same_lines(sent, sent)


def test_texts_outside_the_plain_structure_are_not_compared() -> None:
    sent = event_text(uid_of(1), 1)
    zone = sent[sent.index("BEGIN:VTIMEZONE"):sent.index("END:VTIMEZONE") + 15]
    for odd in (sent.replace("SUMMARY:", "SUMMARY:a\rb"),  # a lone CR
                sent.replace("BEGIN:VTIMEZONE", zone + "BEGIN:VTIMEZONE", 1),  # a zone twice
                sent.replace("END:VALARM\r\n", ""),  # unbalanced
                sent.replace("BEGIN:VALARM", "BEGIN;X=1:VALARM"),
                sent + sent):  # two calendars
        assert not readcheck.same_lines(odd, odd)


def test_corpus_files_respelled_agree_with_the_exact_comparison() -> None:
    rng = random.Random(15)
    cheap = 0
    for entry in corpus():
        try:
            text = entry.read().decode("utf-8")
        except UnicodeDecodeError:
            continue
        if len(text) > 50_000:  # the two largest: seconds of the exact reader, no new case
            continue
        cheap += _check(text, _respelled(text, rng))
        _check(text, _respelled(text, rng).replace("1", "2", 1))
    assert cheap > 50  # most corpus files are plain enough for the cheap path


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(calendar_texts(), st.integers(0, 2**32 - 1))
def test_random_texts_respelled_agree_with_the_exact_comparison(text: str, seed: int) -> None:
    rng = random.Random(seed)
    _check(text, _respelled(text, rng))
    _check(text, _respelled(text, rng).replace("e1@", "e2@", 1))
