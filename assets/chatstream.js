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

  let lastPath = location.pathname;
  new MutationObserver(() => {
    const el = scroller();
    if (!el) return;
    if (location.pathname !== lastPath) { lastPath = location.pathname; follow = true; }
    if (showMatch()) return;
    if (follow) toBottom(el, false);
    el.classList.toggle("scrolled-up", !follow && !atBottom(el));
  }).observe(document.documentElement, { childList: true, subtree: true, characterData: true });
})();
