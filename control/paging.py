"""Paging of list calls: every list answer holds at most one page (see core/limits).

A page token is the offset of the page's first entry, as text; a token this server did not
give out is refused (InvalidInput naming ``page_token``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cirahub.core import limits


@dataclass(frozen=True)
class Page:
    """One page of a list call: ``size`` entries from ``offset``."""

    size: int = limits.DEFAULT_PAGE
    offset: int = 0

    @classmethod
    def of(cls, page_size: int, page_token: str) -> Page:
        """From a request's ``page_size`` (0 = default) and ``page_token`` ("" = first);
        InvalidInput for a size out of bounds or a token this server did not give out."""
        return cls(limits.page_size(page_size), limits.page_offset(page_token))

    def cut(self, entries: Sequence[Any]) -> Paged:
        """This page of ``entries`` (the whole listing) and the next page's token."""
        end = self.offset + self.size
        return Paged(list(entries[self.offset:end]), str(end) if len(entries) > end else "")


@dataclass(frozen=True)
class Paged:
    """The entries of one page and the token of the next ("" = this was the last)."""

    entries: list[Any]
    next_token: str
