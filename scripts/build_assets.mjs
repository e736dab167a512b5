// Bundles the front-end assets with esbuild (no CDN: the product runs offline).
// - src/kefu/web/assets/main.js → src/kefu/web/static/dist/app.js (every staff page: htmx)
// - src/kefu/web/assets/charts.js → src/kefu/web/static/dist/charts.js (ECharts, only on the
//   pages that draw charts)
// - every channel's src/kefu/channels/<name>/assets/<entry>.{ts,js} → that channel's
//   static/dist/<entry>.js, so a channel ships its own front end (e.g. the web chat widget)
//   without editing this file or package.json.
import { build } from "esbuild";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";

const common = { bundle: true, minify: true, format: "iife", target: "es2019", logLevel: "warning" };
const jobs = [
  build({ ...common, entryPoints: ["src/kefu/web/assets/main.js"], outfile: "src/kefu/web/static/dist/app.js" }),
  build({ ...common, entryPoints: ["src/kefu/web/assets/charts.js"], outfile: "src/kefu/web/static/dist/charts.js" }),
];
// Behaviour analytics (kefu.analytics): the tracker the bank's pages load, and its pages'
// charts (ECharts with the Sankey and funnel charts the other pages do not need).
jobs.push(build({ ...common, entryPoints: ["src/kefu/analytics/tracker/tracker.ts"], outfile: "src/kefu/web/static/dist/tracker.js" }));
jobs.push(build({ ...common, entryPoints: ["src/kefu/analytics/assets/charts.js"], outfile: "src/kefu/web/static/dist/analytics-charts.js" }));
// Session replay: the recorder (rrweb), loaded by the tracker only in sampled sessions, and
// the player page's rrweb-player (with its CSS, written beside it as analytics-player.css).
jobs.push(build({ ...common, entryPoints: ["src/kefu/analytics/tracker/replay.ts"], outfile: "src/kefu/web/static/dist/tracker-replay.js" }));
jobs.push(build({ ...common, entryPoints: ["src/kefu/analytics/assets/player.js"], outfile: "src/kefu/web/static/dist/analytics-player.js" }));
// The customers' branch map (kefu.branch): ECharts scatter by coordinates, no map tiles.
jobs.push(build({ ...common, entryPoints: ["src/kefu/web/assets/branch_map.js"], outfile: "src/kefu/web/static/dist/branch-map.js" }));
// The counter's signature pad for paperless forms (kefu.branch, npm signature_pad).
jobs.push(build({ ...common, entryPoints: ["src/kefu/branch/assets/signature.js"], outfile: "src/kefu/web/static/dist/branch-signature.js" }));
const channels = "src/kefu/channels";
for (const name of readdirSync(channels)) {
  const assets = join(channels, name, "assets");
  if (!existsSync(assets)) continue;
  for (const file of readdirSync(assets)) {
    const entry = file.match(/^([a-z0-9_-]+)\.(ts|js)$/);
    if (!entry) continue;
    jobs.push(build({ ...common, entryPoints: [join(assets, file)], outfile: join(channels, name, "static", "dist", `${entry[1]}.js`) }));
  }
}
await Promise.all(jobs);
