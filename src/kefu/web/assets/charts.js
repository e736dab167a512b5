// ECharts for the pages that draw charts (reports, partners), bundled into
// src/kefu/web/static/dist/charts.js. Only the parts those pages use are imported through
// echarts/core, so the bundle carries bar, line and pie charts with their title, tooltip,
// legend and axes on the canvas renderer — add a chart type or component here when a page
// needs one (ECharts warns in the console about a missing one).
// A page declares it in its template:
//   {% block scripts %}{{ super() }}<script src="/static/dist/charts.js" defer></script>{% endblock %}
import * as echarts from "echarts/core";
import { BarChart, LineChart, PieChart } from "echarts/charts";
import { GridComponent, LegendComponent, TitleComponent, TooltipComponent } from "echarts/components";
import { CanvasRenderer } from "echarts/renderers";

echarts.use([BarChart, LineChart, PieChart, GridComponent, LegendComponent, TitleComponent,
  TooltipComponent, CanvasRenderer]);
window.echarts = echarts;
