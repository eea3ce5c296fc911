"""What Exchange refuses in a calendar item, checked on CreateItem and UpdateItem.

Each rule is a documented Exchange limit (``web-service-reference/responsecode.md`` and the
element pages of Microsoft's EWS reference):

- ``ReminderMinutesBeforeStart`` outside 0..2629800 fails schema validation: a SOAP fault for
  the *whole request* (every item of a batch fails), as the schema type is checked before any
  item is processed;
- a subject over 255 characters (``ErrorDataSizeLimitExceeded``; exchangelib refuses it
  before sending);
- End before Start (``ErrorCalendarEndDateIsEarlierThanStartDate``);
- a duration over 5 years (``ErrorCalendarDurationIsTooLong``);
- a recurrence StartDate before 1601-04-01 or an EndDate after 4500-09-01
  (``ErrorCalendarOutOfRange`` / ``ErrorRecurrenceEndDateTooBig``);
- a recurrence without any occurrence (``ErrorRecurrenceHasNoOccurrence``);
- an occurrence that overlaps the next one of its series (``ErrorOccurrenceTimeSpanTooBig``).

Tests can also make the emulator refuse chosen items (:class:`Refusal`) to stand for any
other per-item refusal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import islice, pairwise

from lxml import etree

from . import recurrence
from .xmlio import EwsError, SoapFault, local, parse_dt, t

REMINDER_MAX = 2629800
SUBJECT_MAX = 255
DURATION_MAX = timedelta(days=5 * 365)
FIRST_DATE = date(1601, 4, 1)
LAST_DATE = date(4500, 9, 1)
#: occurrences compared for the overlap rule (enough for every pattern's shortest gap)
_OVERLAP_SAMPLE = 60


@dataclass(frozen=True)
class Refusal:
    """Refuse every created or updated item whose subject contains ``subject`` with EWS
    error ``code`` (a stand-in for any per-item refusal Exchange may answer)."""

    subject: str
    code: str = "ErrorInvalidPropertySet"
    text: str = "The property value is not valid."


def _text(props: dict[str, etree._Element], name: str) -> str | None:
    el = props.get(name)
    return None if el is None else (el.text or "")


def check_request(items: list[dict[str, etree._Element]]) -> None:
    """Schema-level checks of a whole request: one bad value fails all of it."""
    for props in items:
        value = _text(props, "ReminderMinutesBeforeStart")
        if value is not None:
            try:
                minutes = int(value)
            except ValueError:
                minutes = -1
            if not 0 <= minutes <= REMINDER_MAX:
                raise SoapFault("ErrorSchemaValidation",
                                "The request failed schema validation: The 'ReminderMinutesBeforeStart' "
                                f"element is invalid - The value '{value}' is invalid according to its datatype.")


def check_item(props: dict[str, etree._Element], tz_id: str | None, refusals: list[Refusal]) -> None:
    """Per-item checks; raises the EwsError Exchange answers for that item."""
    subject = _text(props, "Subject") or ""
    for refusal in refusals:
        if refusal.subject in subject:
            raise EwsError(refusal.code, refusal.text)
    if len(subject) > SUBJECT_MAX:
        raise EwsError("ErrorDataSizeLimitExceeded", "The subject is limited to 255 characters.")
    start_text, end_text = _text(props, "Start"), _text(props, "End")
    if not start_text or not end_text:
        return
    start, end = parse_dt(start_text), parse_dt(end_text)
    if end < start:
        raise EwsError("ErrorCalendarEndDateIsEarlierThanStartDate", "The end date occurs before the start date.")
    if end - start > DURATION_MAX:
        raise EwsError("ErrorCalendarDurationIsTooLong", "The duration of the calendar item is too long.")
    rec = props.get("Recurrence")
    if rec is not None:
        _check_recurrence(rec, start, end - start, tz_id)


def _check_recurrence(rec: etree._Element, start: datetime, duration: timedelta, tz_id: str | None) -> None:
    for child in rec:
        if not isinstance(child.tag, str) or not local(child.tag).endswith("Recurrence"):
            continue
        first, last = child.findtext(t("StartDate")), child.findtext(t("EndDate"))
        if first and date.fromisoformat(first[:10]) < FIRST_DATE:
            raise EwsError("ErrorCalendarOutOfRange", "The recurrence start date is out of range.")
        if last and date.fromisoformat(last[:10]) > LAST_DATE:
            raise EwsError("ErrorRecurrenceEndDateTooBig", "The end date for the recurrence is after 9/1/4500.")
    starts = list(islice(recurrence.occurrence_starts(rec, start, tz_id), _OVERLAP_SAMPLE))
    if not starts:
        raise EwsError("ErrorRecurrenceHasNoOccurrence", "The recurrence has no occurrence instances.")
    # compared on the wall clock of the series' zone: a daily all-day event is no overlap on
    # the 23-hour day of a DST change
    zone = recurrence.zone(tz_id)
    walls = [s.astimezone(zone).replace(tzinfo=None) for s in starts]
    gaps = [b - a for a, b in pairwise(walls)]
    if gaps and duration > min(gaps):
        raise EwsError("ErrorOccurrenceTimeSpanTooBig",
                       "The time allotment for an occurrence overlaps with another occurrence of the series.")
