// Inlined into <head> (chatstream/chatstream.py), so it runs before the page is painted or
// React starts. Reflex's own first <head> script already gives <html> the class `light` or
// `dark` from the saved choice (localStorage "theme": light, dark or system) and the OS.
// But Reflex 0.10.1's RadixThemesColorModeProvider also puts a class on the Radix Themes
// root, and its first one is always "light" (the provider starts as "system" resolved to
// light until its effects read the saved theme and the OS): a dark page painted one light
// frame on every load. So the root's class is kept equal to <html>'s, which is right
// from the start; a microtask corrects it before the frame is painted.
(() => {
  const html = document.documentElement;
  const follow = () => {
    const root = document.querySelector('.radix-themes[data-is-root-theme="true"]');
    if (!root) return;
    const mode = html.classList.contains("dark") ? "dark" : "light";
    const wrong = mode === "dark" ? "light" : "dark";
    if (root.classList.contains(wrong)) root.classList.replace(wrong, mode);
  };
  new MutationObserver(follow).observe(html, {
    subtree: true,
    attributes: true,
    attributeFilter: ["class"],
  });
})();
