// kefu's behaviour tracker: the script a bank's pages load to send what visitors do to kefu's
// collector (POST /collect/{site}, docs/analytics.md). Bundled by esbuild into
// src/kefu/web/static/dist/tracker.js; no dependency, a few KB gzipped.
//
//   <script src="/static/dist/tracker.js" data-site="demo-bank" defer
//           data-customer="6200000001" data-consent="granted"></script>
//
// What it sends: page views (also an SPA's route changes), clicks with the element's path,
// forms started / submitted / abandoned and the fields reached — field NAMES only, never what
// was typed —, JS errors, failed resources and requests (4xx/5xx of the page itself, fetch and
// XHR), web vitals, scroll depth; the URL (with its UTM) and the referrer. The customer number
// the page names is sent as is and replaced by a keyed hash at the collector (a key in a page
// is public). Nothing is sent before consent when the page asks for it (data-consent="ask":
// call kefuAnalytics.consent(true) when the visitor agrees).
// Session replay (rrweb) is a separate bundle this script loads only in sampled sessions.
// Delivery: batched (every 5 s, 20 events, or when the page is hidden, by sendBeacon); a batch
// that cannot be delivered (offline, 503) waits in localStorage and goes with the next one.

type Props = Record<string, string | number | boolean>;
interface Ev {
  id: string; t: number; type: string; url: string; ref?: string; title?: string;
  target?: string; field?: string; status?: number; value?: number; props?: Props;
}

const script = document.currentScript as HTMLScriptElement | null;
const cfg = script ? script.dataset : ({} as DOMStringMap);
const site = cfg.site || "default";
const endpoint = (cfg.endpoint || "/collect") + "/" + encodeURIComponent(site);
const OFFLINE = "kefu_a_offline";
const MAX_OFFLINE = 500;
const DAY = 864e5;
let queue: Ev[] = [];
let timer = 0;

function rid(): string {
  const a = new Uint8Array(12);
  crypto.getRandomValues(a);
  return Array.from(a, (b) => (b & 63).toString(36).padStart(2, "0")).join("").slice(0, 20);
}

function store(kind: Storage, key: string, make: () => string): string {
  try {
    let v = kind.getItem(key);
    if (!v) { v = make(); kind.setItem(key, v); }
    return v;
  } catch { return make(); }
}

const visitor = store(localStorage, "kefu_a_visitor", rid);
// A session ends after 30 minutes without an event, as in the usual web analytics.
function session(): string {
  const now = Date.now();
  let last = 0;
  try { last = Number(localStorage.getItem("kefu_a_last") || 0); localStorage.setItem("kefu_a_last", String(now)); } catch { /* private mode */ }
  if (now - last > 30 * 60e3) { try { sessionStorage.removeItem("kefu_a_session"); localStorage.removeItem("kefu_a_sid"); } catch { /* */ } }
  return store(localStorage, "kefu_a_sid", rid);
}

function consented(): boolean {
  if (cfg.consent !== "ask") return true;
  try { return localStorage.getItem("kefu_a_consent") === "1"; } catch { return false; }
}

function customer(): string {
  const meta = document.querySelector('meta[name="kefu-customer"]') as HTMLMetaElement | null;
  return (cfg.customer || (meta && meta.content) || "").replace(/[^A-Za-z0-9]/g, "").slice(0, 32);
}

function send(type: string, extra: Partial<Ev> = {}): void {
  if (!consented()) return;
  queue.push({ id: rid(), t: Date.now(), type, url: location.href.slice(0, 2000), ...extra });
  if (queue.length >= 20) flush(false);
  else if (!timer) timer = window.setTimeout(() => flush(false), 5000);
}

function offline(): Ev[] {
  try {
    const kept = JSON.parse(localStorage.getItem(OFFLINE) || "[]") as Ev[];
    localStorage.removeItem(OFFLINE);
    return kept.filter((e) => Date.now() - e.t < DAY);  // the collector refuses older ones
  } catch { return []; }
}

function keep(events: Ev[]): void {
  try {
    const kept = (JSON.parse(localStorage.getItem(OFFLINE) || "[]") as Ev[]).concat(events);
    localStorage.setItem(OFFLINE, JSON.stringify(kept.slice(-MAX_OFFLINE)));
  } catch { /* storage full or off: these events are lost, the page is not */ }
}

function flush(leaving: boolean): void {
  window.clearTimeout(timer);
  timer = 0;
  if (!consented()) { queue = []; return; }
  const events = offline().concat(queue);
  queue = [];
  while (events.length) {
    const part = events.splice(0, 100);
    const body = JSON.stringify({ v: 1, sent_at: Date.now(), visitor, session: session(),
      customer: customer(), events: part });
    // text/plain: a "simple" request, so another origin's collector needs no CORS preflight
    const blob = new Blob([body], { type: "text/plain" });
    if (leaving && navigator.sendBeacon) {
      if (!navigator.sendBeacon(endpoint, blob)) keep(part);
      continue;
    }
    if (!navigator.onLine) { keep(part); continue; }
    origFetch(endpoint, { method: "POST", body: blob, keepalive: true, credentials: "omit" })
      .then((r) => { if (r.status === 503 || r.status >= 500) keep(part); })
      .catch(() => keep(part));
  }
}

// -- page views, also an SPA's route changes ------------------------------------------------
let lastUrl = "";
let maxScroll = 0;
function pageview(): void {
  if (location.href === lastUrl) return;
  const ref = lastUrl || document.referrer;
  lastUrl = location.href;
  maxScroll = 0;
  send("pageview", { ref: ref.slice(0, 2000), title: document.title.slice(0, 200) });
}
for (const name of ["pushState", "replaceState"] as const) {
  const orig = history[name];
  history[name] = function (this: History, ...args: Parameters<History["pushState"]>) {
    const out = orig.apply(this, args);
    window.setTimeout(pageview, 0);
    return out;
  };
}
addEventListener("popstate", pageview);

// -- clicks, with the element's path ----------------------------------------------------------
function elementPath(el: Element | null): string {
  const parts: string[] = [];
  for (let i = 0; el && el !== document.body && i < 5; i++, el = el.parentElement) {
    const track = el.getAttribute("data-track");
    if (track) { parts.unshift("[" + track + "]"); break; }
    let part = el.tagName.toLowerCase();
    if (el.id) { parts.unshift(part + "#" + el.id); break; }
    const cls = (el.getAttribute("class") || "").trim().split(/\s+/).filter(Boolean).slice(0, 2);
    if (cls.length) part += "." + cls.join(".");
    parts.unshift(part);
  }
  return parts.join(" > ").slice(0, 500);
}
addEventListener("click", (e) => {
  const el = (e.target as Element).closest("a,button,input,select,[data-track],[role=button]");
  if (el) send("click", { target: elementPath(el) });
}, true);

// -- forms: started, fields reached (names only), submitted, abandoned ------------------------
// A form names itself by data-form (else its name or id). A multi-step form carries the same
// data-form on each step's page and data-final on the last: its start and its fields count
// once per session, and only the last step's submit is a submit.
interface FormState { last: string; fields: string[]; submitted: boolean }
function formName(form: HTMLFormElement): string {
  return (form.dataset.form || form.getAttribute("name") || form.id || "form").slice(0, 100);
}
function formState(name: string): FormState {
  try { return JSON.parse(sessionStorage.getItem("kefu_a_form_" + name) || "null") || { last: "", fields: [], submitted: false }; }
  catch { return { last: "", fields: [], submitted: false }; }
}
function saveForm(name: string, s: FormState): void {
  try { sessionStorage.setItem("kefu_a_form_" + name, JSON.stringify(s)); } catch { /* */ }
}
const touched = new Set<string>();
let submitting = "";
addEventListener("focusin", (e) => {
  const field = e.target as HTMLInputElement;
  const form = field && field.form;
  if (!form || !field.name || field.type === "submit" || field.type === "hidden") return;
  const name = formName(form);
  const s = formState(name);
  if (!s.fields.length) send("form_start", { target: name });
  if (s.fields.indexOf(field.name) < 0) {
    s.fields.push(field.name);
    send("form_field", { target: name, field: field.name.slice(0, 200) });
  }
  s.last = field.name;
  touched.add(name);
  saveForm(name, s);
}, true);
addEventListener("submit", (e) => {
  const form = e.target as HTMLFormElement;
  const name = formName(form);
  submitting = name;
  if (form.dataset.steps === undefined || form.dataset.final !== undefined) {
    const s = formState(name);
    s.submitted = true;
    saveForm(name, s);
    send("form_submit", { target: name });
    try { sessionStorage.removeItem("kefu_a_form_" + name); } catch { /* */ }
  }
}, true);

function observe(type: string, take: (entries: PerformanceEntryList) => void): void {
  try { new PerformanceObserver((list) => take(list.getEntries())).observe({ type, buffered: true } as PerformanceObserverInit); }
  catch { /* not supported here */ }
}
const vitals: Record<string, number> = {};

// -- errors and failed requests ---------------------------------------------------------------
// Where the browser reports each response's status in resource timing (Chromium), failed
// requests are read from there — also those made before this deferred script ran; elsewhere
// fetch and XHR are wrapped and failed elements are caught by their error event.
const statusTimed = typeof PerformanceResourceTiming !== "undefined" && "responseStatus" in PerformanceResourceTiming.prototype;
function onError(e: Event): void {
  const el = e.target as HTMLElement & { src?: string; href?: string };
  if (el && el !== (window as unknown) && (el.src || el.href)) {
    if (!statusTimed) send("http_error", { target: String(el.src || el.href).slice(0, 500), status: 0 });
  } else {
    const ev = e as ErrorEvent;
    send("error", { target: String(ev.message || "error").slice(0, 300),
      props: { source: String(ev.filename || "").slice(0, 200), line: ev.lineno || 0 } });
  }
}
function onRejection(e: PromiseRejectionEvent): void {
  send("error", { target: String((e.reason && e.reason.message) || e.reason).slice(0, 300) });
}
addEventListener("error", onError, true);
addEventListener("unhandledrejection", onRejection);
// The page's own scripts run before this deferred one: what failed then was kept by the early
// snippet in the page's <head> (docs/analytics.md). Take it over; the snippet stops listening
// first, so nothing is counted twice (no event can fire between these synchronous lines).
const early = (window as unknown as { kefuEarly?: { q: Event[]; stop(): void } }).kefuEarly;
if (early) {
  early.stop();
  for (const e of early.q.splice(0)) {
    if (e.type === "unhandledrejection") onRejection(e as PromiseRejectionEvent);
    else onError(e);
  }
}
const origFetch = window.fetch.bind(window);
if (statusTimed) {
  observe("resource", (l) => {
    for (const r of l as (PerformanceResourceTiming & { responseStatus: number })[]) {
      if (r.responseStatus >= 400 && r.name.indexOf(endpoint) < 0) send("http_error", { target: r.name.slice(0, 500), status: r.responseStatus });
    }
  });
} else {
  window.fetch = function (input: RequestInfo | URL, init?: RequestInit) {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    return origFetch(input, init).then((r) => {
      if (r.status >= 400 && url.indexOf(endpoint) < 0) send("http_error", { target: url.slice(0, 500), status: r.status });
      return r;
    });
  };
  const xhrOpen = XMLHttpRequest.prototype.open;
  XMLHttpRequest.prototype.open = function (this: XMLHttpRequest, method: string, url: string | URL, ...rest: unknown[]) {
    this.addEventListener("loadend", () => {
      if (this.status >= 400) send("http_error", { target: String(url).slice(0, 500), status: this.status });
    });
    return (xhrOpen as (...a: unknown[]) => void).call(this, method, url, ...rest);
  } as typeof XMLHttpRequest.prototype.open;
}

// -- web vitals and scroll depth, sent when the page is hidden -----------------------------
observe("largest-contentful-paint", (l) => { vitals.LCP = l[l.length - 1].startTime; });
observe("first-input", (l) => { const f = l[0] as PerformanceEventTiming; vitals.FID = f.processingStart - f.startTime; });
observe("layout-shift", (l) => { for (const s of l as unknown as { value: number; hadRecentInput: boolean }[]) if (!s.hadRecentInput) vitals.CLS = (vitals.CLS || 0) + s.value * 1000; });
addEventListener("scroll", () => {
  const h = document.documentElement.scrollHeight - innerHeight;
  maxScroll = Math.max(maxScroll, h > 0 ? Math.round((scrollY / h) * 100) : 100);
}, { passive: true });

let reported = false;
function leave(): void {
  if (!reported) {
    reported = true;
    const nav = performance.getEntriesByType("navigation")[0] as PerformanceNavigationTiming | undefined;
    if (nav) {
      vitals.TTFB = nav.responseStart;
      if (nav.loadEventEnd) vitals.load = nav.loadEventEnd;
    }
    for (const k in vitals) send("vital", { target: k, value: Math.round(vitals[k]) });
    send("scroll", { value: maxScroll });
    for (const name of touched) {
      const s = formState(name);
      if (!s.submitted && submitting !== name) send("form_abandon", { target: name, field: s.last });
    }
  }
  flush(true);
}
addEventListener("pagehide", leave);
addEventListener("visibilitychange", () => { if (document.visibilityState === "hidden") flush(true); });
addEventListener("online", () => flush(false));

function start(): void {
  pageview();
  // the page itself answered 4xx/5xx (a broken link that still serves a page)
  const nav = performance.getEntriesByType("navigation")[0] as (PerformanceNavigationTiming & { responseStatus?: number }) | undefined;
  if (nav && nav.responseStatus && nav.responseStatus >= 400) send("http_error", { target: location.href.slice(0, 500), status: nav.responseStatus });
  try { if (localStorage.getItem(OFFLINE)) flush(false); } catch { /* */ }
}

(window as unknown as { kefuAnalytics: object }).kefuAnalytics = {
  consent(yes: boolean) {
    try { localStorage.setItem("kefu_a_consent", yes ? "1" : "0"); } catch { /* */ }
    if (yes) start(); else { queue = []; try { localStorage.removeItem(OFFLINE); } catch { /* */ } }
  },
  track(name: string, props: Props = {}) { send("custom", { target: String(name).slice(0, 200), props }); },
  // for the replay bundle (replay.ts): who is recording, and where to
  ids() { return { visitor, session, endpoint, consented }; },
  flush() { flush(false); },
};
start();

// -- session replay, in sampled sessions only -------------------------------------------------
// data-replay="0.1" records one session in ten with rrweb, loaded then from the bundle beside
// this script (tracker-replay.js, tens of KB: never loaded by the other sessions). The draw is
// made once per session and kept with it.
function replaySampled(): boolean {
  const rate = Number(cfg.replay || 0);
  if (!(rate > 0) || !consented()) return false;
  const sid = session();
  try {
    const [kept, yes] = (localStorage.getItem("kefu_a_replay") || ":").split(":");
    if (kept === sid) return yes === "1";
    const draw = Math.random() < rate;
    localStorage.setItem("kefu_a_replay", sid + ":" + (draw ? "1" : "0"));
    return draw;
  } catch { return false; }
}
if (replaySampled() && script && script.src) {
  const tag = document.createElement("script");
  tag.src = cfg.replaySrc || script.src.replace(/tracker\.js(\?.*)?$/, "tracker-replay.js");
  tag.defer = true;
  document.head.appendChild(tag);
}
