"""iCalendar texts for the fast reader's differential tests: common shapes by name, and a
hypothesis strategy of random events (escapes, folding, parameters, zones, recurrence,
alarms, overrides) mixed with the odd spellings the reader has to leave to icalendar."""

from __future__ import annotations

from hypothesis import strategies as st

BERLIN = (
    "BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nBEGIN:DAYLIGHT\r\nTZOFFSETFROM:+0100\r\n"
    "TZOFFSETTO:+0200\r\nTZNAME:CEST\r\nDTSTART:19700329T020000\r\n"
    "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nEND:DAYLIGHT\r\nBEGIN:STANDARD\r\n"
    "TZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nTZNAME:CET\r\nDTSTART:19701025T030000\r\n"
    "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n"
)
CUSTOM = (
    "BEGIN:VTIMEZONE\r\nTZID:Custom Zone\r\nBEGIN:STANDARD\r\nTZOFFSETFROM:+0530\r\n"
    "TZOFFSETTO:+0530\r\nDTSTART:19700101T000000\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n"
)
ALARM = "BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:Reminder\r\nTRIGGER:-PT15M\r\nEND:VALARM\r\n"


def _calendar(body: str, zones: str = BERLIN) -> str:
    return ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//fast//EN\r\n" + zones + body
            + "END:VCALENDAR\r\n")


def _event(*lines: str, uid: str = "e1@example.com") -> str:
    return "BEGIN:VEVENT\r\nUID:" + uid + "\r\nDTSTAMP:20261101T080000Z\r\n" + "".join(
        line + "\r\n" for line in lines) + "END:VEVENT\r\n"


_SHAPES = {
    "plain": _event("DTSTART;TZID=Europe/Berlin:20270105T090000",
                    "DTEND;TZID=Europe/Berlin:20270105T100000", "SUMMARY:Standup") + "",
    "utc": _event("DTSTART:20270105T090000Z", "DTEND:20270105T093000Z", "SUMMARY:UTC",
                  "LAST-MODIFIED:20261101T080000Z", "STATUS:TENTATIVE", "TRANSP:TRANSPARENT"),
    "date": _event("DTSTART;VALUE=DATE:20270105", "DTEND;VALUE=DATE:20270107",
                   "SUMMARY:Holiday", "CLASS:PRIVATE"),
    "floating": _event("DTSTART:20270105T090000", "SUMMARY:Floating", "PRIORITY:1"),
    "duration": _event("DTSTART;TZID=Europe/Berlin:20270105T090000", "DURATION:PT1H30M",
                       "SUMMARY:Long", "RRULE:FREQ=WEEKLY;BYDAY=TU,MO;UNTIL=20270301T000000Z",
                       "EXDATE;TZID=Europe/Berlin:20270112T090000,20270119T090000"),
    "windows-zone": _event('DTSTART;TZID="W. Europe Standard Time":20270105T090000',
                           'DTEND;TZID="W. Europe Standard Time":20270105T100000',
                           "SUMMARY:Outlook"),
    "unknown-zone": _event("DTSTART;TZID=Custom Zone:20270105T090000",
                           "DTEND;TZID=Nowhere/Else:20270105T100000", "SUMMARY:Custom"),
    "override": _event("DTSTART;TZID=Europe/Berlin:20270105T090000", "RRULE:FREQ=DAILY;COUNT=5",
                       "SUMMARY:Series")
    + _event("RECURRENCE-ID;TZID=Europe/Berlin:20270106T090000",
             "DTSTART;TZID=Europe/Berlin:20270106T110000", "SUMMARY:Moved", "SEQUENCE:2"),
    "folded": _event("DTSTART:20270105T090000Z", "SUMMARY:A long summary that is folded o\r\n"
                     " ver two lines\r\n\tand a third", "DESCRIPTION:x\r\n y"),
    "escapes": _event("DTSTART:20270105T090000Z", r"SUMMARY:a\, b\; c\\d\ne\Nf\:g \t",
                      r"LOCATION:Room 1\, building 2", r"CATEGORIES:Work\,Home,Team,,Team",
                      r"X-THING:raw\,kept\n", "URL:https://example.com/a?b=c%20d"),
    "attendees": _event(
        "DTSTART:20270105T090000Z", "ORGANIZER;CN=Olga O:mailto:Olga@Example.com",
        'ATTENDEE;CN="Doe, Jane";ROLE=OPT-PARTICIPANT;PARTSTAT=ACCEPTED;RSVP=TRUE:mailto:j@x.org',
        'ATTENDEE;DELEGATED-TO="mailto:a@x","mailto:b@x";CN=Bob:mailto:b@x.org',
        "ATTENDEE;CN=Ann:MAILTO:ann@x.org") + "",
    "lf-only": "",
}


#: the names :func:`plain_event` knows
COMMON_SHAPES = tuple(_SHAPES)


def plain_event(case: str) -> str:
    """A common event shape by name (see :data:`_SHAPES`), with a VALARM."""
    if case == "lf-only":
        return plain_event("plain").replace("\r\n", "\n")
    body = _SHAPES[case]
    body = body.replace("END:VEVENT\r\n", ALARM + "END:VEVENT\r\n", 1)
    return _calendar(body, BERLIN + (CUSTOM if case == "unknown-zone" else ""))


# --- random texts ----------------------------------------------------------------------
# every pool has a clean part (the fast reader must take every text made of it) and an odd
# part (what it must leave to icalendar, or take only where its tree is still icalendar's)

_PIECES = ["a", "Zz", " ", "  ", "\\n", "\\N", "\\,", "\\;", "\\\\", ",", ";", ":", "\\t",
           "\\", "é", "日本", "\"", "'", "^", "%2C", "=", "\t"]
_TEXT = st.lists(st.sampled_from(_PIECES), max_size=8).map("".join)
_ZONES = ["Europe/Berlin", "America/New_York", "UTC", "W. Europe Standard Time",
          "Custom Zone", "/freeassociation.sourceforge.net/Europe/Berlin", "Etc/GMT+2",
          "Nowhere/Else", ""]
_STAMPS = (["20270105T090000", "20270105T090000Z", "20270105", "20270112T090000",
            "20260301T083000Z", "20270106"],
           ["20271305T090000", "20270105T250000", "2027-01-05", "", "PT1H",
            "20270105T090000/PT1H"])
_VALUES = (["", "", ";VALUE=DATE", ";VALUE=DATE-TIME"], [";VALUE=PERIOD", ";VALUE=TIME"])
_RULES = (["FREQ=WEEKLY;COUNT=10", "FREQ=DAILY;UNTIL=20270301T000000Z",
           "FREQ=MONTHLY;BYDAY=1MO,-1FR", "FREQ=YEARLY;INTERVAL=1;WKST=MO", "", "COUNT=3",
           "FREQ=WEEKLY;BYDAY=MO,WE;UNTIL=20270301", "FREQ=WEEKLY;BYMONTHDAY=1,15;"],
          ["FREQ=DAILY;COUNT=x", "freq=daily", "FREQ=DAILY;BYDAY=XX"])
_DURATIONS = (["PT1H", "P1D", "-PT5M", "P1W", "PT90M", "P1DT2H"], ["1H", "", "P"])
_TEXT_NAMES = (["SUMMARY", "DESCRIPTION", "LOCATION", "COMMENT", "X-THING", "RESOURCES",
                "summary", "CONTACT"], ["URL", "ATTACH"])
_PARAMS = ([";LANGUAGE=de", ';ALTREP="http://x/y:z"', ";CN=a b", ';X-FOO="a,b",c', ";X-E=",
            ';x-low="q"', ";VALUE=TEXT"],
           [";CN= a", ";VALUE=INTEGER", ";X-A=b^c", ";X-Q=a\\,b", ';X-R="a"b', ";X-S=a "])
_ENUMS = (["STATUS:TENTATIVE", "STATUS:cancelled", "TRANSP:TRANSPARENT", "CLASS:PRIVATE",
           "CLASS:confidential", "PRIORITY:1", "PRIORITY:9", "PRIORITY:+2", "SEQUENCE:-3",
           "SEQUENCE:0"],
          ["PRIORITY: 5", "PRIORITY:x", "SEQUENCE:99999999999", "PRIORITY:٣"])
_ADDRESSES = (["mailto:Ann@X.org", "MAILTO:b@y", "c@z", ""], ["mailto:a\\nb"])
_CNS = (["", ";CN=Ann", ';CN="Doe, J"', ";ROLE=CHAIR", ";PARTSTAT=declined;RSVP=TRUE",
         ';DELEGATED-TO="mailto:a@x","mailto:b@x"'], [";CN=Bob\\", "; CN=x"])
_ALARMS = (["BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT15M\r\nEND:VALARM",
            "BEGIN:VALARM\r\nACTION:AUDIO\r\nTRIGGER;RELATED=END:PT5M\r\nEND:VALARM",
            "BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER;VALUE=DATE-TIME:20270105T080000Z\r\n"
            "END:VALARM"],
           ["BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:soon\r\nEND:VALARM",
            "BEGIN:VTODO\r\nUID:t\r\nEND:VTODO", "BEGIN:valarm\r\nEND:valarm",
            "BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT1M\r\nEND:VEVENT"])
_ODD_LINES = ["GEO:1.5;2.5", "X-ODD;VALUE=BOOLEAN:TRUE", "summary :x", "BAD LINE",
              "DTSTART; TZID=Europe/Berlin:20270105T090000", "REQUEST-STATUS:2.0;ok",
              "X-A;X-B=1;X-B=2:v", "X-TAB;X-P=a\tb:v", "COLOR:red", "X-EMPTY:", "UID:second",
              "CATEGORIES;VALUE=TEXT:a,b"]


def _pool(pools: tuple[list[str], list[str]], odd: bool) -> st.SearchStrategy[str]:
    return st.sampled_from(pools[0] + pools[1] if odd else pools[0])


@st.composite
def _when(draw: st.DrawFn, name: str, odd: bool) -> str:
    """A DTSTART-like line: TZID (quoted or not) or none, VALUE or none, stamps."""
    zone = draw(st.sampled_from(_ZONES))
    params = ""
    if zone and draw(st.booleans()):
        params += f';TZID="{zone}"' if draw(st.booleans()) else f";TZID={zone}"
    params += draw(_pool(_VALUES, odd))
    stamps = draw(st.lists(_pool(_STAMPS, odd), min_size=1, max_size=3))
    stamp = ",".join(stamps) if name in ("EXDATE", "RDATE") else stamps[0]
    return f"{name}{params}:{stamp}"


@st.composite
def _property(draw: st.DrawFn, odd: bool) -> str:
    kind = draw(st.integers(0, 10 if odd else 9))
    if kind <= 1:
        params = "".join(draw(st.lists(_pool(_PARAMS, odd), max_size=2)))
        return draw(_pool(_TEXT_NAMES, odd)) + params + ":" + draw(_TEXT)
    if kind == 2:
        name = draw(st.sampled_from(["DTEND", "EXDATE", "RDATE", "EXDATE"]))
        return draw(_when(name, odd))
    if kind == 3:
        return "DURATION:" + draw(_pool(_DURATIONS, odd))
    if kind == 4:
        return "RRULE:" + draw(_pool(_RULES, odd))
    if kind == 5:
        return draw(_pool(_ENUMS, odd))
    if kind == 6:
        return "CATEGORIES:" + draw(_TEXT)
    if kind == 7:
        name = draw(st.sampled_from(["ATTENDEE", "ORGANIZER"]))
        return name + draw(_pool(_CNS, odd)) + ":" + draw(_pool(_ADDRESSES, odd))
    if kind == 8:
        name = draw(st.sampled_from(["LAST-MODIFIED", "CREATED", "DTSTAMP"]))
        return f"{name}:" + draw(_pool(_STAMPS, odd))
    if kind == 9:
        return draw(_pool(_ALARMS, odd))
    return draw(st.sampled_from(_ODD_LINES))


@st.composite
def _vevent(draw: st.DrawFn, uid: str, override: bool, odd: bool) -> str:
    lines = [f"UID:{uid}"] if not odd or draw(st.integers(0, 9)) else []
    if override:
        line = draw(_when("RECURRENCE-ID", odd))
        lines.append(line.replace(":", ";RANGE=THISANDFUTURE:", 1)
                     if draw(st.integers(0, 4)) == 0 else line)
    if not odd or draw(st.integers(0, 9)):
        lines.append(draw(_when("DTSTART", odd)))
    lines += draw(st.lists(_property(odd), max_size=8))
    return "BEGIN:VEVENT\r\n" + "".join(line + "\r\n" for line in lines) + "END:VEVENT\r\n"


def _fold(text: str, cuts: list[int], seps: list[str]) -> str:
    """``text`` with line folds inserted (never inside a line break)."""
    out, last = [], 0
    for cut, sep in zip(sorted(set(cuts)), seps, strict=False):
        if 0 < cut < len(text) and text[cut - 1] not in "\r\n" and text[cut] not in "\r\n":
            out += [text[last:cut], sep]
            last = cut
    return "".join(out) + text[last:]


@st.composite
def calendar_texts(draw: st.DrawFn, odd: bool = True) -> str:
    """A random VCALENDAR: zones, a master and maybe overrides of one UID, calendar
    properties; sometimes folded, LF-only or with blank lines at the end. With ``odd``
    False only what the fast reader must take (never the odd spellings of the pools)."""
    uid = draw(st.sampled_from(["e1@example.com", " e1@example.com ", "x\\,y"]))
    events = [draw(_vevent(uid, override=False, odd=odd))]
    for _ in range(draw(st.integers(0, 2))):
        other = "other@example.com" if odd and draw(st.integers(0, 5)) == 0 else uid
        events.append(draw(_vevent(other, override=True, odd=odd)))
    zones = draw(st.sampled_from(["", BERLIN, BERLIN + CUSTOM, CUSTOM]))
    heads = ["", "METHOD:PUBLISH\r\n", "X-WR-CALNAME:Team\r\n", "CALSCALE:GREGORIAN\r\n"]
    head = draw(st.sampled_from([*heads, "X-WR-TIMEZONE:Europe/Berlin\r\n", "NAME;VALUE=X:y\r\n"]
                                if odd else heads))
    late_zone = odd and draw(st.integers(0, 3)) == 0
    body = ("".join(events) + zones) if late_zone else (zones + "".join(events))
    text = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n" + head + body + "END:VCALENDAR\r\n"
    if draw(st.booleans()):
        cuts = draw(st.lists(st.integers(1, len(text) - 1), max_size=6))
        seps = draw(st.lists(st.sampled_from(["\r\n ", "\r\n\t"]), min_size=6, max_size=6))
        text = _fold(text, cuts, seps)
    ending = draw(st.integers(0, 9))
    if ending == 0:
        text = text.replace("\r\n", "\n")
    elif ending == 1:
        text += "\r\n\r\n"
    elif ending == 2 and odd:
        text = text.replace("\r\n", "\r", 1)
    return text
