// The bundle every staff page loads: htmx for live fragments, nothing else — ECharts is in
// charts.js, loaded only by the pages that draw charts (issue 23, finding 10: one 1.1 MB
// bundle on every page). Bundled by esbuild (make build) into src/kefu/web/static/dist/app.js;
// no CDN, the product runs offline.
import htmx from "htmx.org";

window.htmx = htmx;
