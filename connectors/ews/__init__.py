"""Exchange spokes on exchangelib: ``ews-public-folder`` and ``ews-mailbox``.

Config keys (see :class:`~cirahub.connectors.ews.client.EwsConfig`): ``service_endpoint``
(http(s) URL) or ``autodiscover: true``; ``username`` (the secret is the password);
``version`` (exchange2013/2016/2019/office365), ``auth_type`` (basic/ntlm/noauth);
``public_folder_routing`` and ``autodiscover_url`` (Exchange Online public folders);
``folder`` (public: ``/Calendars/Team`` from the public folders root; mailbox: a path under
the calendar, default the calendar itself); ``mailbox`` and ``access_type``
(delegate/impersonation) for mailboxes; tuning: ``page_size``, ``full_scan_seconds``,
``overlap_seconds``, ``max_retry_seconds``, ``timezone``, ``meetings_as_appointments``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .client import make_config, validate
from .connector import EwsConnector, PublicFolderConnector
from .mailbox import MailboxConnector


def validate_public_folder(config: Mapping[str, Any]) -> dict[str, Any]:
    """Registry validator of ``ews-public-folder`` (see connectors/kinds)."""
    return validate("ews-public-folder", config)


def validate_mailbox(config: Mapping[str, Any]) -> dict[str, Any]:
    """Registry validator of ``ews-mailbox``."""
    return validate("ews-mailbox", config)


def open_public_folder(config: Mapping[str, Any], secret: str | None) -> PublicFolderConnector:
    """Registry factory of ``ews-public-folder`` (no I/O until the first call)."""
    return PublicFolderConnector(make_config("ews-public-folder", config), secret)


def open_mailbox(config: Mapping[str, Any], secret: str | None) -> MailboxConnector:
    """Registry factory of ``ews-mailbox`` (no I/O until the first call)."""
    return MailboxConnector(make_config("ews-mailbox", config), secret)


__all__ = ["EwsConnector", "MailboxConnector", "PublicFolderConnector", "open_mailbox",
           "open_public_folder", "validate_mailbox", "validate_public_folder"]
