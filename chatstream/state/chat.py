"""The open chat: the branch it shows; sending, stopping, retrying, editing, switching versions."""

from __future__ import annotations

import asyncio
import dataclasses

import reflex as rx

from .. import jobs, limits, repository, tree
from ..models import Chat, Message, Status
from ..settings import MAX_MESSAGE_CHARS, get_settings
from ..streams import BRANCH_CHANGED, TITLE_CHANGED, get_hub
from .live import LiveReply
from .session import current_user_id
from .views import MessageView, VersionsView, branch_views

COMPOSER_ID = "composer"
SENT = rx.call_script("window.chatstreamDrafts?.sent()")
"""After an accepted send: the page empties the composer and forgets the draft that was sent
(assets/chatstream.js); a refused send keeps both."""
CHAT_ROUTE_PREFIX = "/chat/"
RECENT_LIMIT = 40
BUSY = "A reply is still being written in this chat. Stop it or wait."
RETRYABLE = {Status.ERROR.value, Status.STOPPED.value, Status.INTERRUPTED.value}
"""Reply statuses offered a Retry; a complete reply is offered Regenerate."""
SEARCHED_MESSAGE = "m"
"""The query parameter of a search result: the message found, whose branch the chat opens."""


WATCH_CHECK_SECONDS = 15.0
"""How often an idle chat watcher checks that its tab is still connected to this worker."""


def _tab_is_here(token: str) -> bool:
    """Whether the tab `token` has its socket on this worker (so this worker serves it)."""
    from ..chatstream import app

    namespace = app.event_namespace
    if namespace is None:
        return False
    manager = namespace._token_manager  # Reflex keeps which worker holds each socket here
    record = manager.token_to_socket.get(token)
    return record is not None and record.instance_id == manager.instance_id


def _leaf_of(chat: Chat | None) -> int | None:
    return chat.current_leaf_id if chat else None


def _model_of(chat: Chat) -> str:
    """The model that writes the chat's next reply."""
    return chat.model or get_settings().model_name


class ChatState(rx.State):
    """The chat shown in this tab. Empty `public_id` is the new-chat screen."""

    public_id: str = ""
    title: str = ""
    messages: list[MessageView] = []
    """The chat as loaded. Reflex resends a list whole when it changes, so messages added
    afterwards go to `recent`, and an exchange costs its own size, not the conversation's."""
    recent: list[MessageView] = []
    not_found: bool = False
    notice: str = ""
    editing_id: str = ""
    """The user message being edited, if any."""
    live_version: int = 0
    """The streaming reply's place among its versions (as MessageView's fields)."""
    live_versions: int = 0
    live_previous_id: str = ""
    live_next_id: str = ""
    _leaf: str = ""
    """The last message of the branch this tab shows (its streaming reply, if any)."""
    _live_place: VersionsView | None = None

    def _all(self) -> list[MessageView]:
        return [*self.messages, *self.recent]

    def _set_all(self, views: list[MessageView]) -> None:
        self.messages, self.recent = views, []

    def _put_message(self, view: MessageView) -> None:
        """Add a message to the chat, or replace the one with the same id."""
        if view.id == self._leaf and not view.versions and self._live_place is not None:
            view = dataclasses.replace(view, **dataclasses.asdict(self._live_place))
        for messages in (self.messages, self.recent):
            for index, existing in enumerate(messages):
                if existing.id == view.id:
                    messages[index] = view
                    return
        if len(self.recent) >= RECENT_LIMIT:  # now and then, fold recent into the history
            self._set_all(self._all())
        self.recent.append(view)

    def _page_chat_id(self) -> str:
        """The chat of the page that sent this event: its URL, not what the tab loaded last."""
        path = self.router.url.path.rstrip("/")
        return path.removeprefix(CHAT_ROUTE_PREFIX) if path.startswith(CHAT_ROUTE_PREFIX) else ""

    async def _owned_chat(self, session, public_id: str) -> Chat | None:
        user_id = await current_user_id(self)
        if user_id is None or not public_id:
            return None
        return repository.get_chat(session=session, owner_id=user_id, public_id=public_id)

    def _set_live_place(self, place: VersionsView) -> None:
        self._live_place = place
        self.live_version, self.live_versions = place.version, place.versions
        self.live_previous_id, self.live_next_id = place.previous_id, place.next_id

    async def _show(self, chat: Chat | None, messages: list[Message], leaf_id: int | None = None):
        """Show the chat's branch to `leaf_id` (None: its current one); the follower to
        start, if that branch ends in a streaming reply."""
        from .chat_settings import ChatSettingsState

        live = await self.get_state(LiveReply)
        (await self.get_state(ChatSettingsState))._show(chat)
        self.notice, self.editing_id = "", ""
        self.not_found = chat is None and bool(self.public_id)
        self.title = chat.title if chat else ""
        branch = tree.current_branch(messages, leaf_id if leaf_id else _leaf_of(chat))
        places = branch_views(branch, messages)
        self._leaf = branch[-1].public_id if branch else ""
        self._set_all(
            [
                MessageView.of(m, place)
                for m, place in zip(branch, places, strict=True)
                if not m.streaming
            ]
        )
        if not branch or not branch[-1].streaming:  # a reply on another branch goes on unseen
            self._set_live_place(VersionsView())
            live._clear()
            return None
        self._set_live_place(places[-1])
        return LiveReply.follow if live._show(branch[-1]) else None

    async def _load(self, news: str = ""):
        """Show this tab's chat as the database has it; the follower to start, if any.

        `news` from the chat's watcher: a reply started elsewhere is shown if it continues
        the branch this tab shows, else this tab keeps its branch (its counts grow);
        BRANCH_CHANGED shows the chat's current branch."""
        with rx.session() as session:
            chat = await self._owned_chat(session, self.public_id)
            messages = repository.list_messages(session=session, chat_id=chat.id) if chat else []
        by_public = {m.public_id: m for m in messages}
        mine, leaf_id = by_public.get(self._leaf), None
        if news == BRANCH_CHANGED:
            shown = tree.current_branch(messages, _leaf_of(chat))
            if mine is not None and shown and shown[-1].id == mine.id:
                return None  # this tab made the switch, or follows it already
        elif news and mine is not None and (reply := by_public.get(news)) is not None:
            continues = any(m.id == mine.id for m in tree.path(messages, reply.id))
            leaf_id = reply.id if continues else mine.id
        editing = self.editing_id
        follow = await self._show(chat, messages, leaf_id)
        if news and any(m.id == editing for m in self._all()):
            self.editing_id = editing  # news from elsewhere does not close this tab's editor
        return follow

    @rx.event
    async def open_chat(self):
        """on_load of /chat/<public id>: the chat as it stands, follow its live reply, and
        watch for replies started elsewhere."""
        self.public_id = self._page_chat_id()
        await self._open_searched_branch(self.router.url.query_parameters.get(SEARCHED_MESSAGE))
        follow = await self._load()
        return [event for event in (follow, ChatState.watch) if event is not None]

    async def _open_searched_branch(self, message_id: str | None) -> None:
        """A search result's message (`?m=`), on a branch the chat does not show: switch the
        chat to that branch (saved, as any switch)."""
        if not message_id or not isinstance(message_id, str) or len(message_id) > 32:
            return
        with rx.session() as session:
            chat = await self._owned_chat(session, self.public_id)
            found = chat and repository.chat_message(
                session=session, chat=chat, public_id=message_id
            )
            if not found or found.id in {
                m.id for m in repository.branch(session=session, chat=chat)
            }:
                return
            repository.switch_branch(session=session, chat=chat, to=found)
        await get_hub().announce(self.public_id, BRANCH_CHANGED)

    @rx.event(background=True, supersedes=True)
    async def watch(self):
        """Show replies started in this chat by another tab or device, as they start, and
        a new title (written by the model) in the header and the sidebar.

        One per tab (a newer one cancels it); it ends when the tab shows another chat or its
        socket is no longer on this worker (closed, or reloaded onto another worker).
        """
        from .sidebar import SidebarState  # (which imports this module)

        async with self:
            chat_id, token = self.public_id, self.router.session.client_token
            owned = chat_id and self.not_found is False
        if not owned:
            return
        async with get_hub().watch_chat(chat_id) as news:
            news.put_nowait(TITLE_CHANGED)  # a title written before this subscription: check now
            while _tab_is_here(token):
                try:
                    reply_id = await asyncio.wait_for(news.get(), WATCH_CHECK_SECONDS)
                except TimeoutError:
                    continue
                if reply_id == TITLE_CHANGED:
                    async with self:
                        if self.public_id != chat_id:
                            return
                        user_id = await current_user_id(self)
                        with rx.session() as session:
                            title = user_id and repository.chat_title(
                                session=session, owner_id=user_id, public_id=chat_id
                            )
                        refresh = False  # the sidebar, when its link cannot change in place
                        if title is not None and title != self.title:
                            self.title = title
                            sidebar = await self.get_state(SidebarState)
                            refresh = not await sidebar._retitle(chat_id, title)
                    if refresh:
                        yield SidebarState.refresh
                    continue
                async with self:
                    if self.public_id != chat_id:
                        return
                    if (await self.get_state(LiveReply)).message_id == reply_id:
                        continue  # this tab started it, or already follows it
                    follow = await self._load(news=reply_id)  # a reply, or BRANCH_CHANGED
                if follow is not None:
                    yield follow

    @rx.event
    async def new_chat(self):
        """on_load of /: an empty chat that is created by its first message."""
        self.public_id = ""
        self._leaf = ""
        await self._show(None, [])

    def _accept(self, form_data: dict) -> str:
        """The message to send, or "" when there is none (blank) or it is refused (too long:
        `notice` says why, and the composer keeps the text)."""
        text = (form_data.get("text") or "").strip()
        if len(text) > MAX_MESSAGE_CHARS:
            self.notice = (
                f"This message has {len(text):,} characters; the limit is "
                f"{MAX_MESSAGE_CHARS:,}. Nothing was sent."
            )
            return ""
        return text

    @rx.event
    async def send(self, form_data: dict):
        if not (text := self._accept(form_data)):
            return None
        user_id = await current_user_id(self)
        if user_id is None:
            return rx.redirect("/login")
        if (refusal := await limits.refuse_reply(user_id)) is not None:
            self.notice = refusal
            return None
        page_chat_id = self._page_chat_id()
        with rx.session() as session:
            chat = None
            if page_chat_id:
                chat = repository.get_chat(
                    session=session, owner_id=user_id, public_id=page_chat_id
                )
                if chat is None:
                    self.not_found = True
                    return None
            new = chat is None
            if new:
                from .chat_settings import ChatSettingsState

                model, system_prompt = (await self.get_state(ChatSettingsState))._choices()
                chat = repository.create_chat(
                    session=session,
                    owner_id=user_id,
                    title=text,
                    model=model,
                    system_prompt=system_prompt,
                    commit=False,  # saved with its first exchange, or not at all
                )
            shown_leaf = None
            if not new and page_chat_id == self.public_id and self._leaf:
                shown_leaf = repository.chat_message(
                    session=session, chat=chat, public_id=self._leaf
                )
            try:
                user_message, reply = repository.start_exchange(
                    session=session,
                    chat=chat,
                    user_text=text,
                    model=_model_of(chat),
                    after=shown_leaf,  # the branch this tab shows (None: the chat's current one)
                )
            except (repository.ReplyInProgress, limits.TooManyStreams) as refused:
                # (a new chat made for it was rolled back with it)
                self.notice = str(refused) or BUSY
                return None
            chat_id, title = chat.public_id, chat.title
        jobs.start(message_id=reply.id, public_id=reply.public_id)
        if not new:
            await get_hub().announce(chat_id, reply.public_id)
        from .sidebar import SidebarState

        events = [SENT, SidebarState.refresh]
        if not new and page_chat_id != self.public_id:  # this page's chat was not loaded yet
            return [*events, ChatState.open_chat]
        self.notice = ""
        if new:
            self.public_id, self.title = chat_id, title
            self._set_all([])
        self._put_message(MessageView.of(user_message))
        self._leaf = reply.public_id
        self._set_live_place(VersionsView())
        (await self.get_state(LiveReply))._show(reply)
        if new:
            # The chat's own page takes over at once, with a follower of its own and its
            # on_load (the sidebar too): the sooner it does, the less a fast typist's next
            # message meets a page being replaced.
            return [
                LiveReply.follow,  # first: the reply's first chunk waits for nothing
                SENT,
                rx.redirect(f"{CHAT_ROUTE_PREFIX}{chat_id}"),
            ]
        return [LiveReply.follow, *events]

    @rx.event
    async def stop(self):
        """End the chat's streaming reply; its follower hands the stopped reply over."""
        with rx.session() as session:
            chat = await self._owned_chat(session, self._page_chat_id())
            streaming = chat and repository.streaming_message(session=session, chat_id=chat.id)
        if not streaming or await jobs.stop_anywhere(streaming.public_id):
            return
        # No worker runs its job (it died): end it here, from its last checkpoint.
        with rx.session() as session:
            repository.finish(
                session=session,
                message_id=streaming.id,
                content=streaming.content,
                status=Status.STOPPED,
            )
        await get_hub().ended_elsewhere([streaming.public_id])

    async def _rewrite(self, message_id: str, text: str | None = None):
        """A new version beside one of the chat's messages, nothing deleted: a reply (Retry,
        Regenerate; `text` None) or a user message with `text` and its reply (Edit)."""
        user_id = await current_user_id(self)
        if user_id is None:
            return None
        if (refusal := await limits.refuse_reply(user_id)) is not None:
            self.notice = refusal
            return None
        with rx.session() as session:
            chat = repository.get_chat(
                session=session, owner_id=user_id, public_id=self._page_chat_id()
            )
            of = chat and repository.chat_message(session=session, chat=chat, public_id=message_id)
            wanted = "user" if text is not None else "assistant"
            if (
                not of
                or of.streaming
                or of.role != wanted
                or (wanted == "assistant" and of.parent_id is None)
            ):
                return None
            try:
                _, reply = repository.new_version(
                    session=session, chat=chat, of=of, model=_model_of(chat), text=text
                )
            except (repository.ReplyInProgress, limits.TooManyStreams) as refused:
                self.notice = str(refused) or BUSY
                return None
            messages = repository.list_messages(session=session, chat_id=chat.id)
            session.refresh(chat)
        jobs.start(message_id=reply.id, public_id=reply.public_id)
        await get_hub().announce(chat.public_id, reply.public_id)
        self.public_id = chat.public_id
        return await self._show(chat, messages, reply.id)

    @rx.event
    async def retry(self, reply_id: str):
        """Write a reply again, as a new version of it (Retry after a failure, Regenerate
        after success)."""
        return await self._rewrite(reply_id)

    @rx.event
    async def show_version(self, message_id: str):
        """Show the branch through this version of a message (‹ n/m ›), and save the choice:
        a reload, another tab or device shows it too, and the tabs showing the chat follow."""
        chat_id = self._page_chat_id()
        if not chat_id or chat_id != self.public_id:
            return None
        with rx.session() as session:
            chat = await self._owned_chat(session, chat_id)
            to = chat and repository.chat_message(session=session, chat=chat, public_id=message_id)
            if not to:
                return None
            leaf = repository.switch_branch(session=session, chat=chat, to=to)
            messages = repository.list_messages(session=session, chat_id=chat.id)
            session.refresh(chat)
        await get_hub().announce(chat_id, BRANCH_CHANGED)
        return await self._show(chat, messages, leaf.id)

    @rx.event
    def start_edit(self, message_id: str):
        """Edit a message this tab shows, which is the user's (their chat was loaded for them)."""
        if any(m.id == message_id and m.role == "user" for m in self._all()):
            self.editing_id = message_id

    @rx.event
    def cancel_edit(self):
        self.editing_id = ""

    @rx.event
    async def save_edit(self, form_data: dict):
        """Send the edited message as a new version of it, answered; the old one stays."""
        if not (text := self._accept(form_data)):
            return None
        return await self._rewrite(self.editing_id, text)
