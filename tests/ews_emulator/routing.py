"""Public-folder routing as Exchange Online needs it, for the emulator.

Microsoft's EWS docs ("Route public folder hierarchy requests", "... content requests"):

- hierarchy requests (GetFolder / FindFolder on public folders) carry ``X-AnchorMailbox`` =
  the user's ``PublicFolderInformation`` and ``X-PublicFolderMailbox`` = its
  ``InternalRpcClientServer`` (both from Autodiscover ``GetUserSettings``);
- content requests (FindItem / GetItem / CreateItem / UpdateItem / DeleteItem on items of a
  public folder) carry both headers = the ``AutoDiscoverSMTPAddress`` Autodiscover gives for
  ``<GUID>@<domain>``, the GUID being the folder's ``PR_REPLICA_LIST`` (0x6698).

With a :class:`Routing` set, the emulator refuses a public-folder request whose headers are
missing or wrong (``ErrorNoPublicFolderReplicaAvailable``: the request reached a mailbox
without the content), answers Autodiscover ``GetUserSettings`` and ``PR_REPLICA_LIST``.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field

from lxml import etree

from .state import State
from .xmlio import SOAP, SoapFault, local, m, sub, t

AUTODISCOVER = "http://schemas.microsoft.com/exchange/2010/Autodiscover"
REPLICA_LIST_TAG = "0x6698"
_HIERARCHY_OPS = frozenset({"GetFolder", "FindFolder"})
_CONTENT_OPS = frozenset({"FindItem", "GetItem", "CreateItem", "UpdateItem", "DeleteItem"})


@dataclass
class Routing:
    """The tenant's public-folder mailboxes (addresses as Exchange Online shows them)."""

    domain: str = "example.com"
    hierarchy_anchor: str = "publicfolders@example.com"
    hierarchy_mailbox: str = "1ec2a236-ed93-4f88-b9c6-33e63fa4aa44@example.com"
    content_guid: str = "7b4c2f8e-52d5-4d1a-9a83-1b2c3d4e5f60"
    content_mailbox: str = "publicfolders2@example.com"
    #: (op, X-AnchorMailbox, X-PublicFolderMailbox) of every public-folder request
    seen: list[tuple[str, str | None, str | None]] = field(default_factory=list)

    def replica_list(self) -> str:
        """PR_REPLICA_LIST as EWS returns it: base64 of the GUID's ASCII text."""
        return base64.b64encode(self.content_guid.encode() + b"\x00").decode()

    def check(self, state: State, op: etree._Element, headers: Mapping[str, str | None]) -> None:
        """Raise the fault Exchange Online answers a misrouted public-folder request with."""
        name = local(op.tag)
        kind = _kind(state, op, name)
        if kind is None:
            return
        anchor, pf = headers.get("X-AnchorMailbox"), headers.get("X-PublicFolderMailbox")
        self.seen.append((name, anchor, pf))
        wanted = ((self.hierarchy_anchor, self.hierarchy_mailbox) if kind == "hierarchy"
                  else (self.content_mailbox, self.content_mailbox))
        if ((anchor or "").lower(), (pf or "").lower()) != (wanted[0].lower(), wanted[1].lower()):
            raise SoapFault("ErrorNoPublicFolderReplicaAvailable",
                            f"There are no public folder replicas available for this {kind} request "
                            "(X-AnchorMailbox / X-PublicFolderMailbox do not route to them).")

    def user_settings(self, mailbox: str, names: list[str]) -> dict[str, str]:
        """GetUserSettings answers for ``mailbox``: a user, or ``<content GUID>@<domain>``."""
        if mailbox.lower() == f"{self.content_guid}@{self.domain}".lower():
            values = {"AutoDiscoverSMTPAddress": self.content_mailbox}
        else:
            values = {"AutoDiscoverSMTPAddress": mailbox, "PublicFolderInformation": self.hierarchy_anchor,
                      "InternalRpcClientServer": self.hierarchy_mailbox}
        return {n: values[n] for n in names if n in values}


def _public(state: State, folder_ref: etree._Element) -> bool:
    if local(folder_ref.tag) == "DistinguishedFolderId":
        return folder_ref.get("Id") == "publicfoldersroot"
    folder = state.folders.get(folder_ref.get("Id", ""))
    return folder is not None and folder.public


def _kind(state: State, op: etree._Element, name: str) -> str | None:
    """hierarchy / content / None (not a public-folder request)."""
    if name in _HIERARCHY_OPS:
        refs = op.find(m("FolderIds")) if name == "GetFolder" else op.find(m("ParentFolderIds"))
        return "hierarchy" if refs is not None and any(_public(state, r) for r in refs) else None
    if name not in _CONTENT_OPS:
        return None
    for tag in ("ParentFolderIds", "SavedItemFolderId"):
        refs = op.find(m(tag))
        if refs is not None and any(_public(state, r) for r in refs):
            return "content"
    for ref in op.iter(t("ItemId"), t("OccurrenceItemId")):
        item_id = ref.get("Id") or ref.get("RecurringMasterId") or ""
        item = state.items.get(item_id)
        if item is not None and state.folders[item.folder_id].public:
            return "content"
    return None


def autodiscover_answer(routing: Routing, body: bytes) -> bytes:
    """The SOAP answer to an Autodiscover ``GetUserSettingsRequestMessage``."""
    doc = etree.fromstring(body)
    mailboxes = [e.text or "" for e in doc.iter(f"{{{AUTODISCOVER}}}Mailbox")]
    names = [e.text or "" for e in doc.iter(f"{{{AUTODISCOVER}}}Setting")]
    env = etree.Element(f"{{{SOAP}}}Envelope", nsmap={"s": SOAP, "a": AUTODISCOVER})
    resp = sub(sub(sub(env, f"{{{SOAP}}}Body"), f"{{{AUTODISCOVER}}}GetUserSettingsResponseMessage"),
               f"{{{AUTODISCOVER}}}Response")
    sub(resp, f"{{{AUTODISCOVER}}}ErrorCode", "NoError")
    users = sub(resp, f"{{{AUTODISCOVER}}}UserResponses")
    for mailbox in mailboxes:
        user = sub(users, f"{{{AUTODISCOVER}}}UserResponse")
        sub(user, f"{{{AUTODISCOVER}}}ErrorCode", "NoError")
        settings = sub(user, f"{{{AUTODISCOVER}}}UserSettings")
        for key, value in routing.user_settings(mailbox, names).items():
            setting = sub(settings, f"{{{AUTODISCOVER}}}UserSetting")
            sub(setting, f"{{{AUTODISCOVER}}}Name", key)
            sub(setting, f"{{{AUTODISCOVER}}}Value", value)
    return etree.tostring(env, xml_declaration=True, encoding="utf-8")


def add_replica_list(routing: Routing, folder_el: etree._Element, requested: list[etree._Element]) -> None:
    """Append PR_REPLICA_LIST to a public folder's ``t:Folder`` when the request asked for it."""
    for uri in requested:
        if local(uri.tag) == "ExtendedFieldURI" and uri.get("PropertyTag", "").lower() == REPLICA_LIST_TAG:
            prop = sub(folder_el, t("ExtendedProperty"))
            out = etree.SubElement(prop, t("ExtendedFieldURI"), dict(uri.attrib))
            out.tail = None
            sub(prop, t("Value"), routing.replica_list())
