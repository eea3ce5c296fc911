"""The property values of :mod:`cirahub.core.ical_fast`: each built as icalendar's parser
builds it (``TypesFactory.for_property`` + the type's ``from_ical``), for the value types the
fast reader takes; :class:`NotMine` for everything else (the caller leaves the text to
icalendar). The plain date forms are read here without icalendar's string handling
(:func:`_moment`, checked against ``vDDDTypes.from_ical`` by tests/core/test_ical_plain.py).
Pure: no I/O.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

from icalendar import Component
from icalendar.parser import Parameters
from icalendar.parser.property import split_on_unescaped_comma, unescape_backslash
from icalendar.prop import (
    vCalAddress,
    vCategory,
    vDDDLists,
    vDDDTypes,
    vInt,
    vRecur,
    vText,
    vUnknown,
    vUri,
)
from icalendar.timezone import tzp

__all__ = ["NotMine", "add"]

_INTEGER = re.compile(r"[+-]?[0-9]{1,10}")
_DATE_TYPES = (datetime, date, timedelta)
# the properties whose TZID parameter icalendar's parser passes to from_ical
_TZID_NAMES = frozenset({"DTSTART", "DTEND", "RECURRENCE-ID", "DUE", "RDATE", "EXDATE"})
_ENCODING = "utf-8"
# icalendar's own value readers (untyped there)
_read_moment: Callable[..., Any] = vDDDTypes.from_ical
_read_moments: Callable[..., Any] = vDDDLists.from_ical


class NotMine(Exception):
    """Raised inside the reader for anything outside its subset."""


@lru_cache(maxsize=1024)
def _factory(name: str, value_type: str | None) -> type:
    """The value type icalendar's parser picks for a property (``TypesFactory.for_property``)."""
    factory: type = Component.types_factory.for_property(name, value_type)
    return factory


def _parameters(params: dict[str, Any]) -> Parameters:
    """A :class:`Parameters` of ``params`` (keys already upper case) without its costly
    constructor (a case-insensitive ordered dict; the constructor only upper-cases keys)."""
    made: Parameters = Parameters.__new__(Parameters)
    OrderedDict.__init__(made, params)
    return made


def add(component: Any, name: str, params: dict[str, Any], raw: str, line: str) -> None:
    """Add one property the way icalendar's parser does (``handle_property`` +
    ``parse_and_add_property`` + ``Component.add``): several of a name make a list."""
    value: Any
    if name == "CATEGORIES":
        if "VALUE" in params:
            raise NotMine  # icalendar would build another type from the split list
        value = _categories(raw, params)
    elif name == "RDATE" and raw == "":
        return  # icalendar skips an empty RDATE
    else:
        kind = params.get("VALUE")
        if kind is not None and not isinstance(kind, str):
            raise NotMine
        factory = _factory(name, kind.upper() if kind is not None else None)
        tzid = params.get("TZID") if name in _TZID_NAMES else None
        if tzid is not None and not isinstance(tzid, str):
            raise NotMine
        text = raw if factory is vUnknown or "\\" not in raw else unescape_backslash(raw)
        value = _value(factory, text, tzid, params)
    # names are upper case already; a Component is an OrderedDict (kept in its order)
    put = OrderedDict.__setitem__ if isinstance(component, OrderedDict) else dict.__setitem__
    old = dict.get(component, name)
    if old is None:
        put(component, name, value)
    elif isinstance(old, list):
        old.append(value)
    else:
        put(component, name, [old, value])


def _string(cls: type, text: str, params: dict[str, Any]) -> Any:
    value: Any = str.__new__(cls, text)
    if cls is vText or cls is vUnknown:
        value.encoding = _ENCODING
    value.params = _parameters(params)
    return value


def _value(factory: type, text: str, tzid: str | None, params: dict[str, Any]) -> Any:
    """``factory(factory.from_ical(text[, tzid]))`` with the line's parameters, for the value
    types read here; NotMine where icalendar would refuse the value or the type is other."""
    if factory is vText or factory is vUnknown:
        return _string(factory, text, params)
    if factory is vCalAddress or factory is vUri:
        if "\r" in text or "\n" in text:
            raise NotMine  # refused by icalendar: a broken property
        return _string(factory, text, params)
    if factory is vDDDTypes:
        moment = _moment(text, tzid)
        made = object.__new__(vDDDTypes)
        made.dt, made.params = moment, _parameters(params)
        return made
    if factory is vDDDLists:
        return _dates(text, tzid, params)
    if factory is vInt:
        if _INTEGER.fullmatch(text) is None:
            raise NotMine
        number = int.__new__(vInt, int(text))
        if not vInt.min <= number <= vInt.max:
            raise NotMine
        number.params = _parameters(params)
        return number
    if factory is vRecur and not params:
        rule = _rule(text)
        if rule is None:
            raise NotMine
        return rule
    raise NotMine


def _moment(text: str, tzid: str | None) -> date | datetime | timedelta:
    """``vDDDTypes.from_ical`` of a date, date-time or duration (no periods, no times); the
    plain forms (``20270105``, ``20270105T090000`` with or without TZID, ``...Z``) read here
    exactly as icalendar reads them, without its string handling."""
    size = len(text)
    if (size == 15 or (size == 16 and text[15] == "Z")) and text[8] == "T" \
            and text.isascii() and text[:8].isdigit() and text[9:15].isdigit():
        try:  # vDatetime.from_ical, step by step
            zone = tzp.timezone(tzid) if tzid else None
            moment = datetime(int(text[:4]), int(text[4:6]), int(text[6:8]),
                              int(text[9:11]), int(text[11:13]), int(text[13:15]))
            if zone:
                return tzp.localize(moment, zone)
            return moment if size == 15 else tzp.localize_utc(moment)
        except Exception:
            raise NotMine from None
    if size == 8 and not tzid and text.isascii() and text.isdigit():
        try:  # vDate.from_ical
            return date(int(text[:4]), int(text[4:6]), int(text[6:8]))
        except Exception:
            raise NotMine from None
    return _icalendar_moment(text, tzid)


def _icalendar_moment(text: str, tzid: str | None) -> date | datetime | timedelta:
    """``vDDDTypes.from_ical`` itself (every form :func:`_moment` does not read itself; the
    reference its differential test compares it with)."""
    try:
        moment = _read_moment(text, tzid) if tzid else _read_moment(text)
    except Exception:
        raise NotMine from None
    if not isinstance(moment, _DATE_TYPES):
        raise NotMine
    return moment


def _dates(text: str, tzid: str | None, params: dict[str, Any]) -> vDDDLists:
    """An EXDATE/RDATE list as ``vDDDLists(vDDDLists.from_ical(text, tzid))`` (no periods)."""
    try:
        moments = _read_moments(text, tzid) if tzid else _read_moments(text)
    except Exception:
        raise NotMine from None
    if not all(isinstance(m, date) for m in moments):
        raise NotMine  # a period or a duration
    made = object.__new__(vDDDLists)
    made.dts = [vDDDTypes(m) for m in moments]
    made.params = _parameters(params)
    return made


@lru_cache(maxsize=1024)
def _rule(text: str) -> vRecur | None:
    """icalendar's reading of an RRULE value (shared between trees: read-only)."""
    try:
        return vRecur(vRecur.from_ical(text))
    except Exception:
        return None


def _categories(raw: str, params: dict[str, Any]) -> vCategory:
    """CATEGORIES as icalendar's parser reads it: split on unescaped commas, then unescaped."""
    made = object.__new__(vCategory)
    made.cats = [_string(vText, name, {}) for name in split_on_unescaped_comma(raw)]
    made.params = _parameters(params)
    return made
