// The replay player page (/analytics/replays/{site}/{session}): rrweb-player over the
// session's events, fetched as JSON from the element's data-events (permission checked there).
import rrwebPlayer from "rrweb-player";
import "rrweb-player/dist/style.css";

document.addEventListener("DOMContentLoaded", () => {
  const el = document.getElementById("replay-player");
  if (!el) return;
  fetch(el.dataset.events, { credentials: "same-origin", headers: { accept: "application/json" } })
    .then((r) => (r.ok ? r.json() : Promise.reject(new Error(String(r.status)))))
    .then((events) => {
      if (events.length < 2) { el.dataset.state = "empty"; el.textContent = el.dataset.emptyText; return; }
      const width = Math.min(1024, el.clientWidth || 1024);
      // eslint-disable-next-line no-new
      new rrwebPlayer({ target: el, props: { events, width, height: Math.round(width * 0.6), autoPlay: false } });
      el.dataset.state = "ready";
    })
    .catch(() => { el.dataset.state = "error"; el.textContent = el.dataset.errorText; });
});
