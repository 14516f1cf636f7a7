"""Reasoning written inline at the start of a reply: `<think>…</think>` in `delta.content`.

Ollama, older llama.cpp builds and R1 / Qwen3 distills served raw put the model's thinking at
the start of the content, between `<think>` and `</think>`. `ThinkSplitter` separates it from
the answer as the chunks arrive, with tags split anywhere across chunks:

- whitespace before `<think>` is dropped; whitespace between `</think>` and the answer too;
- a reply that ends while thinking keeps its reasoning and has an empty answer;
- no opening tag but a closing one (a chat template that opened it in the prompt, llama.cpp
  issue 23320): everything before `</think>` was reasoning. It was passed on as answer while
  nothing said otherwise, so the splitter reports the move (`moved`) and the caller turns the
  answer so far into reasoning;
- a `<think>` later in the answer (or anywhere once the answer has begun) is left alone.

Pure: no I/O, no clock. Per chunk, once the start is decided and no tag can follow, it
returns the chunk itself (`passthrough`).
"""

from __future__ import annotations

OPEN = "<think>"
CLOSE = "</think>"

_START, _THINK, _AFTER, _WATCH, _DONE = range(5)
"""Before anything but whitespace; inside the tags; whitespace after `</think>`; an answer
with no opening tag, watching for a closing one; plain answer."""

NOTHING = ("", "")


def _partial_suffix(text: str, tag: str) -> int:
    """The length of the longest end of `text` that is a beginning of `tag` (tag cut there)."""
    for size in range(min(len(tag) - 1, len(text)), 0, -1):
        if text.endswith(tag[:size]):
            return size
    return 0


class ThinkSplitter:
    """Feed it the content chunks; each call returns `(reasoning, answer)` text to append."""

    __slots__ = ("_state", "_held", "moved")

    def __init__(self) -> None:
        self._state = _START
        self._held = ""
        self.moved = False
        """Set by the `feed` that found `</think>` without `<think>`: the answer passed on so
        far is reasoning (the returned reasoning continues it)."""

    @property
    def passthrough(self) -> bool:
        """Whether every further chunk is plain answer (the caller may skip `feed`)."""
        return self._state == _DONE

    def feed(self, text: str) -> tuple[str, str]:
        self.moved = False
        state = self._state
        if state == _DONE:
            return "", text
        if state == _WATCH and not self._held and "<" not in text:
            return "", text  # the common case of a reply without tags: no copy
        buffer = self._held + text if self._held else text
        self._held = ""
        if state == _START:
            return self._start(buffer)
        if state == _THINK:
            return self._think(buffer)
        if state == _AFTER:
            return self._after(buffer)
        return self._watch(buffer)

    def close(self) -> tuple[str, str]:
        """The reply ended: what was held back (a possible tag that never completed)."""
        held, self._held = self._held, ""
        state, self._state = self._state, _DONE
        if state == _THINK:
            return held, ""
        if state == _AFTER:
            return NOTHING
        return "", held

    def _start(self, buffer: str) -> tuple[str, str]:
        stripped = buffer.lstrip()
        if stripped.startswith(OPEN):
            self._state = _THINK
            return self._think(stripped[len(OPEN) :])
        if not stripped or OPEN.startswith(stripped):
            self._held = buffer  # only whitespace, or a tag not complete yet
            return NOTHING
        self._state = _WATCH
        return self._watch(buffer)

    def _think(self, buffer: str) -> tuple[str, str]:
        end = buffer.find(CLOSE)
        if end < 0:
            keep = _partial_suffix(buffer, CLOSE)
            if keep:
                self._held, buffer = buffer[-keep:], buffer[:-keep]
            return buffer, ""
        self._state = _AFTER
        return buffer[:end], self._after(buffer[end + len(CLOSE) :])[1]

    def _after(self, buffer: str) -> tuple[str, str]:
        answer = buffer.lstrip()
        if answer:
            self._state = _DONE
        return "", answer

    def _watch(self, buffer: str) -> tuple[str, str]:
        opening, end = buffer.find(OPEN), buffer.find(CLOSE)
        if opening >= 0 and (end < 0 or opening < end):
            self._state = _DONE  # a tag in the answer's own text: left alone from here on
            return "", buffer
        if end >= 0:
            self.moved = True
            self._state = _AFTER
            return buffer[:end], self._after(buffer[end + len(CLOSE) :])[1]
        keep = max(_partial_suffix(buffer, CLOSE), _partial_suffix(buffer, OPEN))
        if keep:
            self._held, buffer = buffer[-keep:], buffer[:-keep]
        return "", buffer


def split(text: str, cuts: list[int] | None = None) -> tuple[str, str]:
    """The whole of `text` as (reasoning, answer), fed in pieces cut at `cuts` (for tests and
    for reading a non-streaming answer)."""
    splitter, reasoning, answer = ThinkSplitter(), "", ""
    bounds = [0, *(cuts or []), len(text)]
    pieces = [text[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]
    for piece in pieces:
        thought, said = splitter.feed(piece)
        if splitter.moved:
            reasoning, answer = reasoning + answer, ""
        reasoning, answer = reasoning + thought, answer + said
    thought, said = splitter.close()
    return reasoning + thought, answer + said
