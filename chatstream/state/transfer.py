"""Export the open chat (Markdown, JSON) and import a chat from an exported JSON file."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import reflex as rx
from reflex.config import get_config
from reflex.constants import Endpoint
from reflex.utils.prerequisites import get_and_validate_app

from .. import repository, transfer, tree
from ..models import Chat, Message
from .chat import CHAT_ROUTE_PREFIX, ChatState
from .session import current_user_id

IMPORT_UPLOAD_ID = "import-chat"
MAX_TOKEN_CHARS = 128


def limit_uploads(asgi_app):
    """The app's `api_transformer`: uploads over the import limit are refused unread."""
    return transfer.UploadLimit(
        asgi_app,
        path=get_config().prepend_backend_path(str(Endpoint.UPLOAD)),
        limit=transfer.MAX_FILE_BYTES + transfer.UPLOAD_OVERHEAD_BYTES,
        on_refused=_show_refusal,
    )


async def _show_refusal(client_token: str) -> None:
    """Show a refused upload as the import error of the tab that sent it."""
    if len(client_token) > MAX_TOKEN_CHARS or not client_token.isprintable():
        return
    app = get_and_validate_app().app
    token = rx.BaseStateToken(ident=client_token, cls=TransferState)
    async with app.modify_state(token) as root:
        state = await root.get_state(TransferState)
        state.import_error = f"Not imported: {transfer.TOO_LARGE}"


def _exported(message: Message, parent: int | None = None) -> transfer.ExportedMessage:
    created = message.created_at
    if created.tzinfo is None:  # SQLite gives back naive datetimes; they are stored in UTC
        created = created.replace(tzinfo=UTC)
    return transfer.ExportedMessage(
        role=message.role,
        content=message.content,  # a streaming reply: the text saved so far
        status=message.status,
        model=message.model,
        created_at=created,
        reasoning=message.reasoning or "",
        parent=parent,
    )


def exported_chat(*, session, chat: Chat, whole_tree: bool) -> transfer.ImportedChat:
    """A chat as a file holds it: its whole tree (and which branch it shows), or only the
    branch it shows."""
    messages = repository.list_messages(session=session, chat_id=chat.id)
    branch = tree.current_branch(messages, chat.current_leaf_id)
    index = {m.id: i for i, m in enumerate(messages)}
    return transfer.ImportedChat(
        title=chat.title,
        messages=[_exported(m, index.get(m.parent_id)) for m in messages]
        if whole_tree
        else [_exported(m) for m in branch],
        model=chat.model,
        system_prompt=chat.system_prompt,
        current=index[branch[-1].id] if branch and whole_tree else None,
    )


class TransferState(rx.State):
    import_error: str = ""
    importing: bool = False

    async def _open_chat(self, whole_tree: bool) -> transfer.ImportedChat | None:
        """This page's chat as a file holds it, if the signed-in user owns it: its whole
        tree (and which branch it shows), or only the branch it shows."""
        page_chat_id = (await self.get_state(ChatState))._page_chat_id()
        user_id = await current_user_id(self)
        if user_id is None or not page_chat_id:
            return None
        with rx.session() as session:
            chat = repository.get_chat(session=session, owner_id=user_id, public_id=page_chat_id)
            if chat is None:
                return None
            return exported_chat(session=session, chat=chat, whole_tree=whole_tree)

    @rx.event
    async def export_markdown(self):
        if (chat := await self._open_chat(whole_tree=False)) is None:
            return None
        return rx.download(
            data=transfer.to_markdown(title=chat.title, messages=chat.messages),
            filename=transfer.filename(chat.title, "md"),
            mime_type="text/markdown",
        )

    @rx.event
    async def export_json(self):
        if (chat := await self._open_chat(whole_tree=True)) is None:
            return None
        text = transfer.to_json(
            title=chat.title,
            messages=chat.messages,
            exported_at=datetime.now(UTC),
            model=chat.model,
            system_prompt=chat.system_prompt,
            current=chat.current,
        )
        return rx.download(
            data=text, filename=transfer.filename(chat.title, "json"), mime_type="application/json"
        )

    @rx.event
    def clear_import_error(self):
        self.import_error = ""

    @rx.event
    async def import_chat(self, files: list[rx.UploadFile]):
        """Create a chat from an exported JSON file and open it; or say why not."""
        self.import_error = ""
        user_id = await current_user_id(self)
        if user_id is None or not files:
            return None
        data = await files[0].read(transfer.MAX_FILE_BYTES + 1)  # more is refused unread
        try:
            imported = transfer.parse_import(data)
        except transfer.ImportRefused as refused:
            self.import_error = f"Not imported: {refused}"
            return None
        with rx.session() as session:
            chat = repository.import_chat(
                session=session,
                owner_id=user_id,
                title=imported.title,
                model=imported.model,
                system_prompt=imported.system_prompt,
                messages=[dataclasses.asdict(m) for m in imported.messages],
                current=imported.current,
            )
            chat_id = chat.public_id
        from .sidebar import SidebarState

        return [SidebarState.refresh, rx.redirect(f"{CHAT_ROUTE_PREFIX}{chat_id}")]
