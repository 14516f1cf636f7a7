// Inlined into <head> (chatstream/chatstream.py), so it runs before Reflex's own code. Reflex
// 0.10.1 names a tab's state by a token it makes with Math.random (utils/state.js,
// generateUUID) unless sessionStorage already holds one; whoever knows a tab's token can
// reconnect to that tab's state once the tab is gone. So the tab's first token comes from the
// browser's CSPRNG instead (crypto.getRandomValues works on plain http too).
(() => {
  const KEY = "token"; // Reflex's TOKEN_KEY
  if (window.sessionStorage.getItem(KEY)) return;
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40; // version 4
  bytes[8] = (bytes[8] & 0x3f) | 0x80; // RFC 4122 variant
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  const uuid = [0, 8, 12, 16, 20].map((at, i, cuts) => hex.slice(at, cuts[i + 1])).join("-");
  window.sessionStorage.setItem(KEY, uuid);
})();
