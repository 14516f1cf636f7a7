"""A chat's messages as a tree: pure functions over its rows, no database.

Each message has a parent (`Message.parent_id`; None for a first message). Messages with
the same parent are *versions* of each other: a regenerated reply, an edited message. A
*branch* is the path from a first message down to a leaf, and what a chat shows, and what the
model is sent, is always one branch. Children are always newer than their parent (ids grow),
so the newest message under any message is a leaf.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import Protocol, TypeVar


class Node(Protocol):
    id: int | None
    parent_id: int | None


N = TypeVar("N", bound=Node)


@dataclasses.dataclass(frozen=True)
class Versions:
    """Where a message stands among its versions: `number` of `count` (1-based), and the
    version before and after it (None at either end)."""

    number: int
    count: int
    previous: int | None
    next: int | None


def path(messages: Iterable[N], leaf_id: int | None) -> list[N]:
    """The branch ending at `leaf_id`, first message first; [] if there is no such message."""
    by_id = {m.id: m for m in messages}
    branch: list[N] = []
    node = by_id.get(leaf_id)
    while node is not None and len(branch) <= len(by_id):  # a cycle (never written) ends too
        branch.append(node)
        node = by_id.get(node.parent_id)
    return branch[::-1]


def newest_leaf(messages: Iterable[N], under: int | None) -> int | None:
    """The newest message at or under `under` (a leaf: nothing is newer than its children);
    `under=None`: the newest message of the chat. None when there is none."""
    messages = list(messages)
    if under is None:
        return max((m.id for m in messages), default=None)
    children: dict[int | None, list[int]] = {}
    for m in messages:
        children.setdefault(m.parent_id, []).append(m.id)
    newest, pending = under, [under]
    while pending:
        node = pending.pop()
        newest = max(newest, node)
        pending.extend(children.get(node, ()))
    return newest if any(m.id == under for m in messages) else None


def current_branch(messages: Sequence[N], leaf_id: int | None) -> list[N]:
    """What a chat shows: the branch to its current leaf, or to its newest message when it
    has none (or a leaf that is not one of its messages)."""
    return path(messages, leaf_id) or path(messages, newest_leaf(messages, None))


def versions(messages: Iterable[N]) -> dict[int, Versions]:
    """Each message's place among its versions, for the messages that have more than one."""
    groups: dict[int | None, list[int]] = {}
    for m in messages:
        groups.setdefault(m.parent_id, []).append(m.id)
    places: dict[int, Versions] = {}
    for ids in groups.values():
        if len(ids) < 2:
            continue
        ids.sort()
        for index, message_id in enumerate(ids):
            places[message_id] = Versions(
                number=index + 1,
                count=len(ids),
                previous=ids[index - 1] if index > 0 else None,
                next=ids[index + 1] if index + 1 < len(ids) else None,
            )
    return places
