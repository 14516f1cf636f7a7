// The follower's pushes, as the page receives them.
//
// A follower (state/live.py `_push`) sends the reply's new text as a small `live` socket
// event: `[offset, chunk]` of the answer, then `[roffset, rchunk]` of the reasoning when it
// grew too (an offset of null: that text did not grow). Here, before any listener sees it,
// it becomes the delta Reflex itself would have sent for the live state's vars, and goes to
// Reflex's own `event` listener: the page's state, and LiveMarkdown, work as with any delta.
// Embedded with LiveMarkdown (markdown.py), so it is in place before a follower starts.
import { Socket } from "socket.io-client";

const LIVE_EVENT = "live";
const LIVE_STATE = "__LIVE_STATE__"; // Live.get_full_name(), filled in by markdown.py

function liveDelta(offset, chunk, roffset, rchunk) {
  const fields = {};
  if (offset != null) {
    fields.chunk_rx_state_ = chunk;
    fields.offset_rx_state_ = offset;
  }
  if (roffset != null) {
    fields.rchunk_rx_state_ = rchunk;
    fields.roffset_rx_state_ = roffset;
  }
  return { delta: { [LIVE_STATE]: fields } };
}

// socket.io-client (pinned by Reflex, 4.8) hands every received event to `emitEvent`.
if (!Socket.prototype.chatstreamLiveWire) {
  const emitEvent = Socket.prototype.emitEvent;
  Socket.prototype.emitEvent = function (args) {
    if (args[0] !== LIVE_EVENT) return emitEvent.call(this, args);
    return emitEvent.call(this, ["event", liveDelta(...args.slice(1))]);
  };
  Socket.prototype.chatstreamLiveWire = true;
}
