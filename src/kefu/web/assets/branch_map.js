// The customers' branch map (/branch/map): branches drawn at their coordinates over China's
// province outlines (a shipped GeoJSON registered with ECharts' registerMap: no online map
// tiles, the product runs offline), coloured by predicted wait for the chosen service, with a
// table beside it. Data from /branch/map/waits. Outlines: src/kefu/branch/assets/
// china-provinces.json (Natural Earth, public domain; how it was made: make_outlines.mjs).
import * as echarts from "echarts/core";
import { ScatterChart } from "echarts/charts";
import { GeoComponent, TooltipComponent } from "echarts/components";
import { CanvasRenderer } from "echarts/renderers";
import outlines from "../../branch/assets/china-provinces.json";

echarts.use([ScatterChart, GeoComponent, TooltipComponent, CanvasRenderer]);
echarts.registerMap("china", outlines);

const COLOURS = { green: "#2e7d32", yellow: "#f9a825", red: "#c62828", closed: "#9e9e9e" };
const MARGIN = 1.5; // degrees around the branches when the view is fitted to them

// The view: the branches' box with a margin (a city's branches fill the map), else all China.
function bounds(branches) {
  const placed = branches.filter((b) => b.longitude !== null && b.latitude !== null);
  if (!placed.length) return undefined;
  const lons = placed.map((b) => b.longitude);
  const lats = placed.map((b) => b.latitude);
  return [[Math.min(...lons) - MARGIN, Math.max(...lats) + MARGIN],
          [Math.max(...lons) + MARGIN, Math.min(...lats) - MARGIN]];
}

function text(value) {
  return value === null || value === undefined ? "—" : String(value);
}

async function draw(chart, service, where) {
  const query = new URLSearchParams({ service, ...where });
  const answer = await fetch(`/branch/map/waits?${query}`);
  if (!answer.ok) return;
  const branches = await answer.json();
  chart.setOption({
    tooltip: {
      formatter: (p) => (p.seriesType === "scatter"
        ? `${echarts.format.encodeHTML(p.data.name)}<br>${text(p.data.wait_minutes)} 分钟`
        : echarts.format.encodeHTML(p.name)),
    },
    geo: {
      map: "china", roam: true, boundingCoords: bounds(branches),
      itemStyle: { areaColor: "#f3f4f6", borderColor: "#9ca3af" },
      emphasis: { itemStyle: { areaColor: "#e5e7eb" }, label: { show: false } },
      label: { show: true, color: "#6b7280", fontSize: 11 },
    },
    series: [{
      type: "scatter", coordinateSystem: "geo", zlevel: 1,
      symbolSize: (value, p) => (p.data.band === "closed" ? 9 : 18), // open branches stand out
      data: branches.map((b) => ({ ...b, value: [b.longitude, b.latitude], itemStyle: { color: COLOURS[b.band] } })),
    }],
  });
  const rows = document.getElementById("branch-rows");
  rows.replaceChildren(...branches.map((b) => {
    const tr = document.createElement("tr");
    tr.dataset.band = b.band;
    for (const value of [b.name, b.wait_minutes, b.waiting, b.distance_km, b.opening_hours]) {
      const td = document.createElement("td");
      td.textContent = text(value); // customer-facing: never HTML
      tr.append(td);
    }
    tr.firstChild.style.borderLeft = `6px solid ${COLOURS[b.band]}`;
    return tr;
  }));
}

document.addEventListener("DOMContentLoaded", () => {
  const element = document.getElementById("branch-map");
  const select = document.getElementById("branch-service");
  if (!element || !select) return;
  const chart = echarts.init(element);
  let where = {};
  const redraw = () => draw(chart, select.value, where);
  select.addEventListener("change", redraw);
  redraw();
  navigator.geolocation?.getCurrentPosition((p) => {
    where = { lat: p.coords.latitude, lon: p.coords.longitude };
    redraw();
  });
  setInterval(redraw, 30000);
});
