"""Exchange spokes on exchangelib: ``ews-public-folder`` and ``ews-mailbox``.

Config keys (see :class:`~cirahub.connectors.ews.client.EwsConfig`): ``service_endpoint``
(http(s) URL) or ``autodiscover: true``; ``username`` (the secret is the password);
``version`` (exchange2013/2016/2019/office365), ``auth_type`` (basic/ntlm/noauth);
``folder`` (public: ``/Calendars/Team`` from the public folders root; mailbox: a path under
the calendar, default the calendar itself); ``mailbox`` and ``access_type``
(delegate/impersonation) for mailboxes; tuning: ``page_size``, ``full_scan_seconds``,
``overlap_seconds``, ``max_retry_seconds``, ``timezone``, ``meetings_as_appointments``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cirahub.connectors.registry import register

from .client import make_config, validate
from .connector import EwsConnector, MailboxConnector, PublicFolderConnector


def _factory(kind: str, cls: type[EwsConnector]) -> Any:
    def build(config: Mapping[str, Any], secret: str | None) -> EwsConnector:
        return cls(make_config(kind, config), secret)

    return build


for _kind, _cls in (("ews-public-folder", PublicFolderConnector), ("ews-mailbox", MailboxConnector)):
    register(_kind, _factory(_kind, _cls), lambda config, _k=_kind: validate(_k, config))

__all__ = ["EwsConnector", "MailboxConnector", "PublicFolderConnector"]
