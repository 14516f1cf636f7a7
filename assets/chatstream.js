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

  let lastPath = location.pathname;
  new MutationObserver(() => {
    const el = scroller();
    if (!el) return;
    if (location.pathname !== lastPath) { lastPath = location.pathname; follow = true; }
    if (follow) toBottom(el, false);
    el.classList.toggle("scrolled-up", !follow && !atBottom(el));
  }).observe(document.documentElement, { childList: true, subtree: true, characterData: true });
})();
