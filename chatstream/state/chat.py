"""The open chat: its messages, sending, stopping and retrying replies."""

from __future__ import annotations

import reflex as rx

from .. import jobs, repository
from ..models import Chat, Message, Status
from ..settings import MAX_MESSAGE_CHARS, get_settings
from .live import LiveReply
from .session import current_user_id
from .views import MessageView

COMPOSER_ID = "composer"
RETRYABLE = {Status.ERROR.value, Status.STOPPED.value, Status.INTERRUPTED.value}


class ChatState(rx.State):
    """The chat shown in this tab. Empty `public_id` is the new-chat screen."""

    public_id: str = ""
    title: str = ""
    messages: list[MessageView] = []
    not_found: bool = False
    notice: str = ""

    def put_message(self, view: MessageView) -> None:
        """Add a message to the list, or replace the one with the same id."""
        for index, existing in enumerate(self.messages):
            if existing.id == view.id:
                self.messages[index] = view
                return
        self.messages.append(view)

    async def _owned_chat(self, session, public_id: str) -> Chat | None:
        user_id = await current_user_id(self)
        if user_id is None or not public_id:
            return None
        return repository.get_chat(session=session, owner_id=user_id, public_id=public_id)

    async def _show(self, chat: Chat | None, messages: list[Message]):
        live = await self.get_state(LiveReply)
        self.notice = ""
        self.not_found = chat is None and bool(self.public_id)
        self.title = chat.title if chat else ""
        self.messages = [MessageView.of(m) for m in messages if not m.streaming]
        streaming = next((m for m in messages if m.streaming), None)
        if streaming is None:
            live.clear()
            return None
        live.show(streaming)
        return LiveReply.follow

    @rx.event
    async def open_chat(self):
        """on_load of /chat/<public id>: the chat as it stands, and follow its live reply."""
        self.public_id = self.router.url.path.rstrip("/").rsplit("/", 1)[-1]
        with rx.session() as session:
            chat = await self._owned_chat(session, self.public_id)
            messages = repository.list_messages(session=session, chat_id=chat.id) if chat else []
        return await self._show(chat, messages)

    @rx.event
    async def new_chat(self):
        """on_load of /: an empty chat that is created by its first message."""
        self.public_id = ""
        await self._show(None, [])

    @rx.event
    async def send(self, form_data: dict):
        text = (form_data.get("text") or "").strip()
        if not text:
            return None
        if len(text) > MAX_MESSAGE_CHARS:
            self.notice = (
                f"This message has {len(text):,} characters; the limit is "
                f"{MAX_MESSAGE_CHARS:,}. Nothing was sent."
            )
            return None
        user_id = await current_user_id(self)
        if user_id is None:
            return rx.redirect("/login")
        model = get_settings().model_name
        with rx.session() as session:
            chat = await self._owned_chat(session, self.public_id)
            if self.public_id and chat is None:
                self.not_found = True
                return None
            new = chat is None
            if new:
                chat = repository.create_chat(session=session, owner_id=user_id, title=text)
            try:
                user_message, reply = repository.start_exchange(
                    session=session, chat=chat, user_text=text, model=model
                )
            except repository.ReplyInProgress:
                self.notice = "A reply is still being written in this chat. Stop it or wait."
                return None
            chat_id = chat.public_id
        jobs.start(message_id=reply.id, public_id=reply.public_id)
        self.notice = ""
        self.put_message(MessageView.of(user_message))
        from .sidebar import SidebarState

        events = [rx.set_value(COMPOSER_ID, ""), SidebarState.refresh]
        if new:
            return [*events, rx.redirect(f"/chat/{chat_id}")]
        (await self.get_state(LiveReply)).show(reply)
        return [*events, LiveReply.follow]

    @rx.event
    async def stop(self):
        """End the chat's streaming reply; its follower hands the stopped reply over."""
        with rx.session() as session:
            chat = await self._owned_chat(session, self.public_id)
            streaming = chat and repository.streaming_message(session=session, chat_id=chat.id)
            if not streaming:
                return
            if not jobs.stop(streaming.public_id):
                # No job writes it here: end it in the database; followers see that.
                repository.finish(
                    session=session,
                    message_id=streaming.id,
                    content=streaming.content,
                    status=Status.STOPPED,
                )

    @rx.event
    async def retry(self, message_id: str):
        """Write the chat's last reply again, if it ended badly."""
        with rx.session() as session:
            chat = await self._owned_chat(session, self.public_id)
            if chat is None:
                return None
            messages = repository.list_messages(session=session, chat_id=chat.id)
            last = messages[-1] if messages else None
            if last is None or last.public_id != message_id or last.status not in RETRYABLE:
                return None
            try:
                reply = repository.restart_reply(
                    session=session, chat=chat, message=last, model=get_settings().model_name
                )
            except repository.ReplyInProgress:
                return None
        jobs.start(message_id=reply.id, public_id=reply.public_id)
        self.messages = [m for m in self.messages if m.id != message_id]
        (await self.get_state(LiveReply)).show(reply)
        return LiveReply.follow
