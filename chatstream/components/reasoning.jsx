// The reasoning block above a reply's answer: open and growing while the model thinks,
// with a live "Thinking… 4 s"; folded to "Thought for 12 s" once the answer begins (and on
// every later render of the message, a reload too); a click opens or folds it. The text
// itself is the children (Markdown or LiveMarkdown, rendered as the answer's is), kept
// mounted while folded so that a live one keeps what it holds.
import { useEffect, useRef, useState } from "react";

function thoughtFor(ms) {
  if (!ms) return "Thought";
  const s = ms / 1000;
  return `Thought for ${s < 10 ? s.toFixed(1) : Math.round(s).toLocaleString()} s`;
}

function Reasoning({ thinking, ms, label, children }) {
  const [choice, setChoice] = useState(null); // the reader's click wins over the default
  const [, setTick] = useState(0);
  const start = useRef(null);
  const took = useRef(null);
  const wasThinking = useRef(thinking);
  if (start.current === null) start.current = Date.now() - (thinking ? ms || 0 : 0);
  if (thinking) took.current = null;
  else if (took.current === null) {
    // seen ending here: the time this tab counted; else what the server knows
    took.current = wasThinking.current ? thoughtFor(Date.now() - start.current) : label || thoughtFor(ms);
  }
  wasThinking.current = thinking;
  useEffect(() => {
    if (!thinking) return undefined;
    const timer = setInterval(() => setTick((n) => n + 1), 1000);
    return () => clearInterval(timer);
  }, [thinking]);
  const open = choice ?? !!thinking;
  const seconds = Math.max(0, Math.floor((Date.now() - start.current) / 1000));
  return (
    <div className="reasoning" data-testid="reasoning" data-open={open ? "true" : "false"}
      data-thinking={thinking ? "true" : "false"}>
      <button type="button" className="reasoning-toggle" data-testid="reasoning-toggle"
        aria-expanded={open} onClick={() => setChoice(!open)}>
        <svg className="reasoning-chevron" aria-hidden="true" viewBox="0 0 24 24" width="14"
          height="14" fill="none" stroke="currentColor" strokeWidth="2" strokeLinecap="round"
          strokeLinejoin="round"><path d="m9 18 6-6-6-6" /></svg>
        <span data-testid="reasoning-label">
          {thinking ? `Thinking… ${seconds} s` : took.current}
        </span>
      </button>
      <div className="reasoning-content" data-testid="reasoning-content" hidden={!open}>
        {children}
      </div>
    </div>
  );
}
