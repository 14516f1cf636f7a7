"""The sidebar: the user's chats, newest first; rename and delete."""

from __future__ import annotations

import reflex as rx
from reflex_local_auth import LocalAuthState

from .. import jobs, repository
from ..streams import TITLE_CHANGED, get_hub
from .chat import ChatState
from .chat_settings import ChatSettingsState
from .live import LiveReply
from .search import SearchState
from .session import current_user_id, end_session
from .transfer import TransferState
from .views import ChatLink


class SidebarState(rx.State):
    chats: list[ChatLink] = []
    username: str = ""
    open_on_mobile: bool = False
    target_id: str = ""
    target_title: str = ""
    renaming: bool = False
    deleting: bool = False

    @rx.event
    async def refresh(self):
        self.open_on_mobile = False  # a page was opened: fold the sidebar away on phones
        user_id = await current_user_id(self)
        auth = await self.get_state(LocalAuthState)
        if user_id is None and auth.auth_token:
            # Its session ended since the token was set (signed out elsewhere, expired, the
            # account disabled): the tab is signed out, and its page sends it to sign in.
            auth.auth_token = ""
        self.username = auth.authenticated_user.username if user_id is not None else ""
        if user_id is None:
            self.chats = []
            return
        with rx.session() as session:
            links = repository.chat_links(session=session, owner_id=user_id)
        chats = [ChatLink(id=public_id, title=title) for public_id, title in links]
        if chats != self.chats:  # (an assignment resends the whole list, changed or not)
            self.chats = chats
        search = await self.get_state(SearchState)
        await search._run(user_id)  # a search shown follows the chats too

    async def _retitle(self, public_id: str, title: str) -> bool:
        """The chat's new title in its link, from its tab's watcher, which has just read it
        for the signed-in user: no list to read again, no event of its own (an exchange's
        title cost a `refresh`). False when a search is shown (its results show titles too)
        or the link is not there: the caller refreshes instead."""
        if (await self.get_state(SearchState)).active or all(
            link.id != public_id for link in self.chats
        ):
            return False
        self.chats = [
            ChatLink(id=link.id, title=title) if link.id == public_id else link
            for link in self.chats
        ]
        return True

    @rx.event
    def toggle(self):
        self.open_on_mobile = not self.open_on_mobile

    async def _target(self, public_id: str) -> bool:
        """Aim the rename or delete dialog at the chat `public_id`, if it is the user's."""
        user_id = await current_user_id(self)
        with rx.session() as session:
            chat = user_id and repository.get_chat(
                session=session, owner_id=user_id, public_id=public_id
            )
        if not chat:
            return False
        self.target_id, self.target_title = chat.public_id, chat.title
        return True

    @rx.event
    async def ask_rename(self, public_id: str):
        self.renaming = await self._target(public_id)

    @rx.event
    async def ask_delete(self, public_id: str):
        self.deleting = await self._target(public_id)

    @rx.event
    def set_renaming(self, value: bool):
        self.renaming = value

    @rx.event
    def set_deleting(self, value: bool):
        self.deleting = value

    @rx.event
    async def rename(self, form_data: dict):
        self.renaming = False
        public_id = self.target_id
        title = (form_data.get("title") or "").strip()
        user_id = await current_user_id(self)
        if not title or user_id is None:
            return None
        with rx.session() as session:
            chat = repository.get_chat(session=session, owner_id=user_id, public_id=public_id)
            if chat is None:
                return None
            repository.rename_chat(session=session, chat=chat, title=title)
            new_title = chat.title
        chat_state = await self.get_state(ChatState)
        if chat_state.public_id == public_id:
            chat_state.title = new_title
        await get_hub().announce(public_id, TITLE_CHANGED)  # other tabs showing the chat
        return SidebarState.refresh

    @rx.event
    async def delete(self):
        self.deleting = False
        public_id = self.target_id
        user_id = await current_user_id(self)
        if user_id is None:
            return None
        with rx.session() as session:
            chat = repository.get_chat(session=session, owner_id=user_id, public_id=public_id)
            if chat is None:
                return None
            streaming = repository.streaming_message(session=session, chat_id=chat.id)
            repository.delete_chat(session=session, chat=chat)
        if streaming:  # its job, wherever it runs, stops now rather than at its next checkpoint
            await jobs.stop_anywhere(streaming.public_id)
        events = [SidebarState.refresh]
        if (await self.get_state(ChatState)).public_id == public_id:
            events.append(rx.redirect("/"))
        return events

    @rx.event
    async def logout(self):
        """End the session, and forget in this tab everything the user was shown."""
        await end_session(self)
        for state in (ChatState, ChatSettingsState, SearchState, TransferState):
            (await self.get_state(state)).reset()
        (await self.get_state(LiveReply))._clear()  # (its follower, if any, ends too)
        self.reset()
        return rx.redirect("/login")
