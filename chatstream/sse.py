"""Server-sent events, decoded from the bytes of a response body as they arrive.

The `openai` client parses each event into a pydantic chunk object, about 60 µs a chunk;
a streaming reply needs only each event's `data`, which `json.loads` reads in 2 µs. This is
the small part of the SSE format (https://html.spec.whatwg.org/#event-stream-interpretation)
that a chat completion stream uses: `data:` lines (joined by newlines when there are several),
a blank line ending an event, comments and other fields ignored, any line ending.
"""

from __future__ import annotations


class EventDecoder:
    """Feed it the body's bytes in whatever pieces they come; it returns each completed
    event's data, in order."""

    def __init__(self) -> None:
        self._pending = b""
        self._data: list[bytes] = []

    def feed(self, piece: bytes) -> list[str]:
        buffer = self._pending + piece if self._pending else piece
        if b"\r" in buffer:
            if buffer.endswith(b"\r"):  # its "\n" may be in the next piece
                buffer, self._pending = buffer[:-1], b"\r"
            else:
                self._pending = b""
            buffer = buffer.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            lines = buffer.split(b"\n")
            self._pending = lines.pop() + self._pending
        else:
            lines = buffer.split(b"\n")
            self._pending = lines.pop()
        events: list[str] = []
        for line in lines:
            if not line:
                if self._data:
                    events.append(b"\n".join(self._data).decode("utf-8", "replace"))
                    self._data = []
            elif line.startswith(b"data:"):
                value = line[5:]
                self._data.append(value[1:] if value.startswith(b" ") else value)
        return events

    def close(self) -> list[str]:
        """The body ended: an event not followed by a blank line still counts."""
        events = self.feed(b"\n\n") if self._pending or self._data else []
        return events
