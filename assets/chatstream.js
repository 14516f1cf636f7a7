// chatstream's small browser helpers: Enter sends, and the view follows a growing reply
// unless the reader has scrolled up (then a button offers the way back down).
(() => {
  const NEAR_BOTTOM = 80;
  let follow = true;

  const scroller = () => document.getElementById("chat-scroll");
  const atBottom = (el) => el.scrollHeight - el.scrollTop - el.clientHeight < NEAR_BOTTOM;
  const toBottom = (el, smooth) => el.scrollTo({ top: el.scrollHeight, behavior: smooth ? "smooth" : "auto" });

  document.addEventListener("keydown", (event) => {
    const box = event.target;
    if (!(box instanceof HTMLTextAreaElement) || box.dataset.testid !== "composer") return;
    if (event.key !== "Enter" || event.shiftKey || event.isComposing) return;
    event.preventDefault();
    if (box.value.trim() && !document.querySelector('[data-testid="stop"]')) {
      follow = true;
      box.form.requestSubmit();
    }
  });

  document.addEventListener("scroll", (event) => {
    const el = event.target;
    if (el.id !== "chat-scroll") return;
    follow = atBottom(el);
    el.classList.toggle("scrolled-up", !follow);
  }, true);

  document.addEventListener("click", (event) => {
    if (!event.target.closest("#jump-latest")) return;
    follow = true;
    toBottom(scroller(), true);
  });

  // A search result opens its chat at the matched message (/chat/<id>?m=<message id>&q=<words>):
  // once the message is on the page, the first matched word is scrolled to the middle instead
  // of the bottom, the words are highlighted (CSS Custom Highlight: no DOM change under
  // React) and the message flashes.
  const wordRanges = (root, words) => {
    const ranges = [];
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    while (walker.nextNode()) {
      const node = walker.currentNode, text = node.data.toLowerCase();
      for (const word of words) {
        for (let i = text.indexOf(word); i >= 0; i = text.indexOf(word, i + word.length)) {
          const range = new Range();
          range.setStart(node, i);
          range.setEnd(node, i + word.length);
          ranges.push(range);
        }
      }
    }
    return ranges;
  };
  let shownMatch = "";
  const showMatch = () => {
    const params = new URLSearchParams(location.search);
    const id = params.get("m");
    if (!id || location.href === shownMatch) return false;
    const target = document.querySelector(`[data-testid="message"][data-message-id="${CSS.escape(id)}"]`);
    if (!target) return true;  // the chat is still loading: do not scroll it meanwhile
    shownMatch = location.href;
    follow = false;
    const words = (params.get("q") || "").toLowerCase().split(/\s+/).filter(Boolean);
    const ranges = wordRanges(target.querySelector('[data-testid="message-content"]') || target, words);
    if (window.Highlight && CSS.highlights) CSS.highlights.set("search-match", new Highlight(...ranges));
    const el = scroller();
    if (ranges.length && el) {
      const at = ranges[0].getBoundingClientRect(), box = el.getBoundingClientRect();
      el.scrollTop += at.top - box.top - box.height / 2;
    } else {
      target.scrollIntoView({ block: "start" });
    }
    target.classList.remove("search-match");
    void target.offsetWidth;  // restart the highlight if it was shown before
    target.classList.add("search-match");
    target.dataset.searchMatch = "true";
    return true;
  };

  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape" || event.target.dataset?.testid !== "search-input") return;
    document.querySelector('[data-testid="search-clear"]')?.click();
  });

  // A message far from the view is laid out when it comes near it, at its real size (CSS
  // content-visibility): while the view follows, a change of size keeps it at the bottom.
  const resized = new ResizeObserver(() => {
    const el = scroller();
    if (el && follow) toBottom(el, false);
  });
  let sized = null, view = null;  // the conversation and the scroller whose sizes are watched

  // The view follows from the ResizeObserver alone: it runs after the browser's layout, so
  // reading the height there costs nothing, where the MutationObserver, run as each change
  // lands, made the browser lay out the whole conversation then (3.6 ms at a reply's start
  // after 500 messages, before the first chunk could be read).
  let lastPath = location.pathname;
  new MutationObserver(() => {
    const el = scroller();
    if (!el) return;
    const box = el.firstElementChild;
    if (box !== sized) { if (sized) resized.unobserve(sized); resized.observe(sized = box); }
    if (el !== view) { if (view) resized.unobserve(view); resized.observe(view = el); }
    if (location.pathname !== lastPath) { lastPath = location.pathname; follow = true; }
    if (showMatch()) return;
    el.classList.toggle("scrolled-up", !follow && !atBottom(el));
  }).observe(document.documentElement, { childList: true, subtree: true, characterData: true });
})();

// Drafts: the composer keeps an unsent message per chat ("new" on the new-chat screen) in
// localStorage, across reloads and chat switches. A short tick keeps the stored draft equal
// to what the composer shows (React may replace the textarea without an input event), and
// shows a chat's own draft when the page changes chat. An accepted send is the server's to
// say: it calls `chatstreamDrafts.sent()`, which empties the composer and the draft that
// was sent, whatever the tick saw meanwhile (a refused send keeps both).
window.chatstreamDrafts = (() => {
  const PREFIX = "chatstream:draft:";
  const composer = () => document.querySelector('textarea[data-testid="composer"]');
  const NEW = PREFIX + "new";
  const chatKey = () => PREFIX + (location.pathname.match(/^\/chat\/([\w-]+)/)?.[1] ?? "new");
  const stored = (key) => localStorage.getItem(key) ?? "";
  const store = (key, text) => (text ? localStorage.setItem(key, text) : localStorage.removeItem(key));
  let shown = null, box = null;  // the key whose draft the composer shows, and that composer
  let pending = null;  // the send in flight: { key, text }
  let carry = false;   // a new chat's first message was accepted: what is typed next is its own

  const sync = (typed = false) => {
    const el = composer();
    if (!el) return;
    const key = chatKey();
    if (key !== shown) {  // another chat: show its draft
      // Typed on the new-chat screen after its first message was accepted, before the
      // chat's own page replaced it: that text belongs to the chat just created.
      if (carry && shown === NEW && !stored(key) && stored(NEW)) store(key, stored(NEW)), store(NEW, "");
      carry = false;
    } else if (el === box) {
      if (el.value !== stored(key)) store(key, el.value);
      return;
    }
    box = el, shown = key;
    if (typed) store(key, el.value);  // (what is being typed wins over a stored draft)
    else el.value = stored(key);
  };

  document.addEventListener("input", (event) => {
    if (event.target === composer()) sync(true);
  });
  document.addEventListener("submit", (event) => {
    const el = composer();
    if (el && event.target === el.form) pending = { key: chatKey(), text: el.value };
  }, true);
  setInterval(() => sync(), 250);

  return {
    sent() {
      if (!pending) return;
      const el = composer();
      if (el && chatKey() === pending.key) el.value = "";
      if (stored(pending.key) === pending.text) store(pending.key, "");
      carry = pending.key === NEW && chatKey() === NEW;
      pending = null;
    },
  };
})();

// Keyboard shortcuts (ChatGPT's where it has them); Ctrl/⌘+/ lists them.
(() => {
  const SHORTCUTS = [
    ["Ctrl/⌘ + Shift + O", "New chat"],
    ["Shift + Esc, or /", "Focus the message box"],
    ["Esc", "Stop the reply being written"],
    ["Enter / Shift + Enter", "Send / new line"],
    ["Ctrl/⌘ + /", "Show these shortcuts"],
  ];
  const typing = (el) => el instanceof HTMLElement && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));
  const byTestId = (id) => document.querySelector(`[data-testid="${id}"]`);
  const focusComposer = () => {
    const el = byTestId("composer");
    if (!el) return;
    el.focus();
    el.setSelectionRange(el.value.length, el.value.length);
  };

  let help = null;
  const showHelp = () => {
    if (!help) {
      help = document.createElement("dialog");
      help.className = "shortcuts-help";
      help.dataset.testid = "shortcuts-help";
      help.innerHTML = "<h2>Keyboard shortcuts</h2><dl></dl><form method=dialog><button>Close</button></form>";
      for (const [keys, what] of SHORTCUTS) {
        const dt = document.createElement("dt"), dd = document.createElement("dd");
        dt.textContent = keys, dd.textContent = what;
        help.querySelector("dl").append(dt, dd);
      }
      help.addEventListener("click", (event) => { if (event.target === help) help.close(); });
      document.body.append(help);
    }
    if (!help.open) help.showModal();
  };

  document.addEventListener("keydown", (event) => {
    if (event.isComposing || event.defaultPrevented) return;
    const mod = event.ctrlKey || event.metaKey, key = event.key.toLowerCase();
    if (mod && event.shiftKey && key === "o") {
      event.preventDefault();
      byTestId("new-chat")?.click();
    } else if (mod && (key === "/" || event.code === "Slash")) {
      event.preventDefault();
      showHelp();
    } else if (event.key === "Escape" && event.shiftKey) {
      event.preventDefault();
      focusComposer();
    } else if (event.key === "/" && !mod && !typing(event.target) && !document.querySelector("dialog[open], [role=dialog]")) {
      event.preventDefault();
      focusComposer();
    } else if (event.key === "Escape" && !mod && byTestId("stop")
               && (!typing(event.target) || event.target === byTestId("composer"))
               && !document.querySelector("dialog[open], [role=dialog], [role=menu]")) {
      event.preventDefault();
      byTestId("stop").click();
    }
  });
})();
