"""Search box of the sidebar: the signed-in user's chats matching what is typed."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from urllib.parse import urlencode

import reflex as rx
from sqlalchemy.exc import OperationalError

from .. import search
from .session import current_user_id

log = logging.getLogger(__name__)

QUERY_CHARS = 200
"""The longest query searched; the rest of a longer one is ignored."""
SEARCHES_AT_ONCE = asyncio.Semaphore(4)
"""Searches run in threads, off the event loop; at most this many at once per worker."""


@dataclasses.dataclass
class Segment:
    text: str
    hit: bool


@dataclasses.dataclass
class SearchResult:
    href: str
    """The chat, at the matched message: `?m=<public id>&q=<words>`, which
    assets/chatstream.js reads to scroll to the words in that message and highlight them."""
    title: list[Segment]
    snippet: list[Segment]

    @classmethod
    def of(cls, hit: search.SearchHit, words: list[str]) -> SearchResult:
        href = f"/chat/{hit.chat_id}"
        if hit.message_id:
            href += "?" + urlencode({"m": hit.message_id, "q": " ".join(words)})
        title, snippet = search.segments(hit.title), search.segments(hit.snippet)
        if "".join(t for t, _ in snippet) == "".join(t for t, _ in title):
            snippet = []  # the first message, which the title was made from: said once
        return cls(
            href=href,
            title=[Segment(t, h) for t, h in title],
            snippet=[Segment(t, h) for t, h in snippet],
        )


def _search(user_id: int, query: str) -> list[search.SearchHit]:
    try:
        with rx.session() as session:
            return search.search_chats(session=session, owner_id=user_id, query=query)
    except OperationalError as exc:  # PostgreSQL cancelled it (search.STATEMENT_TIMEOUT_MS)
        log.warning("search of user %s given up: %s", user_id, str(exc).splitlines()[0])
        return []


class SearchState(rx.State):
    query: str = ""
    results: list[SearchResult] = []

    @rx.var
    def active(self) -> bool:
        return bool(search.terms(self.query))

    @rx.event
    async def set_query(self, value: str):
        self.query = value[:QUERY_CHARS]
        await self._run(await current_user_id(self))

    async def _run(self, user_id: int | None) -> None:
        """(Re)compute the results: as the query changes, and when the chats change under it."""
        words = search.terms(self.query)
        if user_id is None or not words:
            self.results = []
            return
        async with SEARCHES_AT_ONCE:
            hits = await asyncio.to_thread(_search, user_id, self.query)
        self.results = [SearchResult.of(hit, words) for hit in hits]

    @rx.event
    def clear(self):
        self.query, self.results = "", []
