// kefu's session recorder: rrweb, loaded by the tracker (tracker.ts) only in sessions it
// sampled (data-replay on the tracker's tag), so the tracker itself stays a few KB. Bundled
// by esbuild into src/kefu/web/static/dist/tracker-replay.js.
//
// Bank privacy, decided here before anything leaves the page: every input is masked
// (maskAllInputs: the recording shows "****", never what was typed), elements marked private
// (class "kefu-private" or a data-private attribute) are blocked (a grey box of their size),
// text in elements of class "kefu-mask" is masked. The collector masks numbers again.
//
// Uploads: chunks of events to POST {endpoint}/{site}/replay as text/plain JSON — soon after
// a page's full snapshot, then every 10 s or at 256 KB; when the page is hidden, by
// sendBeacon in pieces under its 64 KB limit. Each chunk carries the session's next number.
import { record } from "@rrweb/record";

interface Ids { visitor: string; session: () => string; endpoint: string; consented: () => boolean }
type RrEvent = { type: number; timestamp: number; data: unknown };

const ids = (window as unknown as { kefuAnalytics?: { ids?: () => Ids } }).kefuAnalytics?.ids?.();
const MAX = 256 * 1024;
const BEACON = 60 * 1024;
let buffer: RrEvent[] = [];
let size = 0;
let timer = 0;

function nextSeq(session: string): number {
  try {
    const [sid, n] = (localStorage.getItem("kefu_a_rseq") || ":").split(":");
    const next = sid === session ? Number(n) + 1 : 0;
    localStorage.setItem("kefu_a_rseq", session + ":" + next);
    return next;
  } catch { return Math.floor(Math.random() * 1e5); }
}

function post(events: RrEvent[], leaving: boolean): void {
  if (!ids || !events.length || !ids.consented()) return;
  const session = ids.session();
  const body = JSON.stringify({ v: 1, sent_at: Date.now(), visitor: ids.visitor, session,
    seq: nextSeq(session), events });
  const blob = new Blob([body], { type: "text/plain" });
  const url = ids.endpoint + "/replay";
  if (leaving && navigator.sendBeacon) { navigator.sendBeacon(url, blob); return; }
  fetch(url, { method: "POST", body: blob, credentials: "omit" }).catch(() => { /* lost: a replay is best effort */ });
}

function flush(leaving: boolean): void {
  window.clearTimeout(timer);
  timer = 0;
  const events = buffer;
  buffer = [];
  size = 0;
  if (!leaving) { post(events, false); return; }
  // a beacon carries at most 64 KB: send pieces under that (one larger event is dropped)
  let piece: RrEvent[] = [];
  let pieceSize = 0;
  for (const e of events) {
    const n = JSON.stringify(e).length;
    if (n > BEACON) continue;
    if (pieceSize + n > BEACON) { post(piece, true); piece = []; pieceSize = 0; }
    piece.push(e);
    pieceSize += n;
  }
  post(piece, true);
}

if (ids) {
  record({
    emit(event: RrEvent) {
      buffer.push(event);
      size += JSON.stringify(event).length;
      if (event.type === 2 || size >= MAX) {  // 2: a full snapshot — send it while the page lives
        window.clearTimeout(timer);
        timer = window.setTimeout(() => flush(false), event.type === 2 ? 500 : 0);
      } else if (!timer) {
        timer = window.setTimeout(() => flush(false), 10_000);
      }
    },
    maskAllInputs: true,
    blockClass: "kefu-private",
    blockSelector: "[data-private]",
    maskTextClass: "kefu-mask",
    slimDOMOptions: "all",
    inlineImages: false,
    recordCanvas: false,
    collectFonts: false,
    sampling: { mousemove: 100, scroll: 150, input: "last" },
  });
  addEventListener("pagehide", () => flush(true));
  addEventListener("visibilitychange", () => { if (document.visibilityState === "hidden") flush(true); });
}
