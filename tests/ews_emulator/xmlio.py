"""SOAP/EWS XML helpers for the emulator: namespaces, envelopes, faults, value normalization.

The emulator stores items as data and re-serializes them the way a real Exchange answers
(booleans ``true``/``false``, instants in UTC ``...Z``), never echoing the request bytes: the
exchangelib parser only accepts the canonical forms.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from functools import lru_cache

from lxml import etree

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
M = "http://schemas.microsoft.com/exchange/services/2006/messages"
T = "http://schemas.microsoft.com/exchange/services/2006/types"
E = "http://schemas.microsoft.com/exchange/services/2006/errors"
NSMAP = {"s": SOAP, "m": M, "t": T}

#: ServerVersionInfo of Exchange Online (build 15.20 → exchangelib speaks Exchange2016)
SERVER_VERSION = {
    "MajorVersion": "15",
    "MinorVersion": "20",
    "MajorBuildNumber": "8769",
    "MinorBuildNumber": "21",
    "Version": "V2018_01_08",
}

#: item elements whose text is a boolean (exchangelib sends 0/1, Exchange answers true/false)
BOOL_FIELDS = frozenset(
    {"IsAllDayEvent", "ReminderIsSet", "IsResponseRequested", "AllowNewTimeProposal", "IsDraft"}
)
#: item elements whose text is an instant (stored and answered in UTC)
DATETIME_FIELDS = frozenset({"Start", "End", "ReminderDueBy"})


def t(name: str) -> str:
    return f"{{{T}}}{name}"


def m(name: str) -> str:
    return f"{{{M}}}{name}"


def local(tag: str) -> str:
    """Local name of a Clark-notation tag."""
    return tag.rsplit("}", 1)[-1]


def sub(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    el = etree.SubElement(parent, tag, {k: v for k, v in attrs.items() if v is not None})
    if text is not None:
        el.text = text
    return el


@lru_cache(maxsize=65536)
def parse_dt(text: str) -> datetime:
    """An xs:dateTime as an aware UTC datetime (naive values are taken as UTC). Cached: a
    restriction reads every item's Start for each query (datetimes are immutable)."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def fmt_dt(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def normalize_prop(el: etree._Element) -> etree._Element:
    """A stored copy of an item property element from a request, in server canonical form."""
    out = copy.deepcopy(el)
    name = local(out.tag)
    if name in BOOL_FIELDS and out.text is not None:
        out.text = "true" if out.text.strip().lower() in ("1", "true", "on") else "false"
    elif name in DATETIME_FIELDS and out.text:
        out.text = fmt_dt(parse_dt(out.text))
    return out


def envelope(body_child: etree._Element) -> bytes:
    env = etree.Element(f"{{{SOAP}}}Envelope", nsmap={"s": SOAP})
    header = sub(env, f"{{{SOAP}}}Header")
    etree.SubElement(header, t("ServerVersionInfo"), SERVER_VERSION, nsmap={"h": T})
    body = sub(env, f"{{{SOAP}}}Body")
    body.append(body_child)
    return etree.tostring(env, xml_declaration=True, encoding="utf-8")


def fault(code: str, message: str, back_off_ms: int | None = None) -> bytes:
    """A SOAP fault as Exchange sends it for request-level errors (throttling, schema)."""
    env = etree.Element(f"{{{SOAP}}}Envelope", nsmap={"s": SOAP})
    header = sub(env, f"{{{SOAP}}}Header")
    etree.SubElement(header, t("ServerVersionInfo"), SERVER_VERSION, nsmap={"h": T})
    body = sub(env, f"{{{SOAP}}}Body")
    f = sub(body, f"{{{SOAP}}}Fault")
    code_el = etree.SubElement(f, "faultcode", nsmap={"a": E})
    code_el.text = f"a:{code}"
    sub(f, "faultstring", message)
    detail = sub(f, "detail")
    etree.SubElement(detail, f"{{{E}}}ResponseCode", nsmap={"e": E}).text = code
    etree.SubElement(detail, f"{{{E}}}Message", nsmap={"e": E}).text = message
    if back_off_ms is not None:
        mx = etree.SubElement(detail, t("MessageXml"), nsmap={"t": T})
        sub(mx, t("Value"), str(back_off_ms), Name="BackOffMilliseconds")
    return etree.tostring(env, xml_declaration=True, encoding="utf-8")


def response(op: str) -> tuple[etree._Element, etree._Element]:
    """``m:{op}Response`` and its ``m:ResponseMessages`` container."""
    root = etree.Element(m(f"{op}Response"), nsmap={"m": M, "t": T})
    return root, sub(root, m("ResponseMessages"))


def message(
    container: etree._Element, op: str, code: str = "NoError", text: str | None = None
) -> etree._Element:
    """One ``m:{op}ResponseMessage`` with its class, code and (for errors) text."""
    cls = "Success" if code == "NoError" else "Error"
    msg = sub(container, m(f"{op}ResponseMessage"), ResponseClass=cls)
    if text is not None:
        sub(msg, m("MessageText"), text)
    sub(msg, m("ResponseCode"), code)
    if code != "NoError":
        sub(msg, m("DescriptiveLinkKey"), "0")
    return msg


class EwsError(Exception):
    """A per-message EWS error (``ResponseClass="Error"``) raised inside an operation."""

    def __init__(self, code: str, text: str) -> None:
        super().__init__(text)
        self.code = code
        self.text = text


class SoapFault(Exception):
    """A request-level SOAP fault (e.g. ErrorInvalidOperation for the whole request)."""

    def __init__(self, code: str, text: str) -> None:
        super().__init__(text)
        self.code = code
        self.text = text
