"""What the page does per update: React renders and DOM mutations, counted in the page.
Used by tests/e2e/test_render_cost.py and bench/browser.py.

`PROBE` goes in with `context.add_init_script`, before React loads. It stands in for the React
DevTools hook, so React reports every commit to it; the probe walks only the part of the
fiber tree that React rendered (as DevTools does: a subtree whose child pointer is unchanged
was not rendered) and counts the components that rendered, and a MutationObserver counts the
DOM mutations that follow each commit. `window.__probe.watch(elements)` marks elements (the
finished messages) whose renders and mutations are counted apart.

`window.__probe.log` holds one row per commit: `[time, components rendered, of them under a
watched element, live, DOM mutations, of them under a watched element, page ms, message]`,
`live` when the streaming reply (the component named LiveMarkdown) rendered: one streaming
update; `page ms` from the socket message that caused the commit to the commit (decoding the
update, applying it, rendering), when the commit happened while that message was being
handled, and `message` that message's time stamp (the commits of one message share it).
"""

from __future__ import annotations

PROBE = """(() => {
  const COMPONENT = new Set([0, 1, 11, 14, 15]);  // function, class, forwardRef, memo fibers
  const HOST = 5, PERFORMED_WORK = 1;
  let watched = new WeakSet();
  const probe = (window.__probe = {
    log: [], ms: 0,
    reset() { this.log = []; this.ms = 0; },
    watch(elements) { watched = new WeakSet(elements); },
  });
  const isWatched = (node) => {
    for (; node; node = node.parentNode) if (watched.has(node)) return true;
    return false;
  };
  const nameOf = (fiber) => {  // a memo's displayName is on its elementType, not its type
    const type = fiber.elementType || fiber.type;
    if (!type || typeof type === "string") return "";
    const inner = type.type || type.render || type;
    return type.displayName || inner.displayName || inner.name || "";
  };
  const hostAbove = (fiber) => {
    for (let up = fiber.return; up; up = up.return) if (up.tag === HOST) return up.stateNode;
    return null;
  };
  const walk = (root, row) => {
    const stack = [root.current];
    while (stack.length) {
      const fiber = stack.pop(), before = fiber.alternate;
      if (COMPONENT.has(fiber.tag) && (before === null || fiber.flags & PERFORMED_WORK)) {
        row[1]++;
        if (isWatched(hostAbove(fiber))) row[2]++;
        if (nameOf(fiber) === "LiveMarkdown") row[3] = true;
      }
      if (before !== null && fiber.child === before.child) continue;  // not rendered this time
      for (let child = fiber.child; child; child = child.sibling) stack.push(child);
    }
  };
  let renderers = 0;
  window.__REACT_DEVTOOLS_GLOBAL_HOOK__ = {
    renderers: new Map(), supportsFiber: true, isDisabled: false,
    inject(renderer) { this.renderers.set(++renderers, renderer); return renderers; },
    checkDCE() {}, onScheduleFiberRoot() {}, onCommitFiberUnmount() {},
    onPostCommitFiberRoot() {}, setStrictMode() {},
    onCommitFiberRoot(id, root) {
      const started = performance.now(), row = [Date.now(), 0, 0, false, 0, 0, null, null];
      const cause = window.event;
      if (cause instanceof MessageEvent) {
        row[6] = started - cause.timeStamp;
        row[7] = cause.timeStamp;
      }
      walk(root, row);
      probe.log.push(row);
      probe.ms += performance.now() - started;
    },
  };
  new MutationObserver((records) => {
    const started = performance.now(), row = probe.log[probe.log.length - 1];
    if (!row) return;
    row[4] += records.length;
    for (const record of records) if (isWatched(record.target)) row[5]++;
    probe.ms += performance.now() - started;
  }).observe(document, { childList: true, subtree: true, characterData: true, attributes: true });
})();"""


def per_update(log: list[list]) -> dict:
    """From the streaming reply's first update to its last (after the commit that showed it,
    which also shows the message sent): commits, components rendered and DOM mutations per
    update, and the renders and mutations inside watched elements in all. Without a streaming
    reply (the naive design), every commit is an update."""
    live = [i for i, row in enumerate(log) if row[3]][1:] or list(range(len(log)))
    if not live:
        return {"updates": 0}
    window = log[live[0] : live[-1] + 1]
    updates = len(live)
    page_ms = sorted(log[i][6] for i in live if log[i][6] is not None)
    return {
        "updates": updates,
        "commits_per_update": len(window) / updates,
        "components_per_update": sum(row[1] for row in window) / updates,
        "mutations_per_update": sum(row[4] for row in window) / updates,
        "finished_renders": sum(row[2] for row in window),
        "finished_mutations": sum(row[5] for row in window),
        "page_ms_p50": page_ms[len(page_ms) // 2] if page_ms else None,
        "page_ms_p95": page_ms[int(len(page_ms) * 0.95)] if page_ms else None,
        "page_ms_measured": len(page_ms),
        "most_components_in_a_commit": max(row[1] for row in window),
        "most_page_ms": page_ms[-1] if page_ms else None,
    }


def cost(rows: list[list]) -> dict:
    """What a stretch of commits cost the page: components rendered (and of them inside
    watched elements), DOM mutations inside watched elements, and page ms, each socket
    message counted once (its last commit's page ms: its commits share the message)."""
    page_ms: dict[float, float] = {}
    for row in rows:
        if row[6] is not None:
            page_ms[row[7]] = max(page_ms.get(row[7], 0.0), row[6])
    return {
        "commits": len(rows),
        "components": sum(row[1] for row in rows),
        "finished_renders": sum(row[2] for row in rows),
        "finished_mutations": sum(row[5] for row in rows),
        "page_ms": sum(page_ms.values()),
    }


def start_and_end(log: list[list]) -> tuple[list[list], list[list]]:
    """The commits of a reply's start, before its first streaming update (the message sent,
    the reply shown, whatever else the send changed), and of its end, after its last update
    (the hand-over to the chat's list). Needs a streaming reply (LiveMarkdown) in the log."""
    live = [i for i, row in enumerate(log) if row[3]]
    return log[: live[1] if len(live) > 1 else len(log)], log[live[-1] + 1 :]
