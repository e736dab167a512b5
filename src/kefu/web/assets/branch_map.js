// The customers' branch map (/branch/map): branches drawn by their coordinates on an ECharts
// scatter (no online map tiles: the product runs offline), coloured by predicted wait for the
// chosen service, with a table beside it. Data from /branch/map/waits.
import * as echarts from "echarts/core";
import { ScatterChart } from "echarts/charts";
import { GridComponent, TooltipComponent } from "echarts/components";
import { CanvasRenderer } from "echarts/renderers";

echarts.use([ScatterChart, GridComponent, TooltipComponent, CanvasRenderer]);

const COLOURS = { green: "#2e7d32", yellow: "#f9a825", red: "#c62828", closed: "#9e9e9e" };

function text(value) {
  return value === null || value === undefined ? "—" : String(value);
}

async function draw(chart, service, where) {
  const query = new URLSearchParams({ service, ...where });
  const answer = await fetch(`/branch/map/waits?${query}`);
  if (!answer.ok) return;
  const branches = await answer.json();
  chart.setOption({
    tooltip: { formatter: (p) => `${p.data.name}<br>${text(p.data.wait_minutes)} 分钟` },
    xAxis: { type: "value", scale: true, name: "经度" },
    yAxis: { type: "value", scale: true, name: "纬度" },
    series: [{
      type: "scatter", symbolSize: 18,
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
