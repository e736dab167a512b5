// The UI's only script bundle: htmx for live fragments, ECharts for charts.
// Bundled by esbuild (make build) into src/kefu/web/static/dist/app.js; no CDN, the product
// runs offline.
import htmx from "htmx.org";
import * as echarts from "echarts";

window.htmx = htmx;
window.echarts = echarts;
