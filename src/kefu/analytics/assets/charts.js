// ECharts for the behaviour analytics pages (kefu.analytics), bundled into
// src/kefu/web/static/dist/analytics-charts.js: the staff pages' bar, line and pie charts plus
// the Sankey (paths) and funnel charts only these pages draw.
import * as echarts from "echarts/core";
import { BarChart, FunnelChart, LineChart, PieChart, SankeyChart } from "echarts/charts";
import { GridComponent, LegendComponent, TitleComponent, TooltipComponent } from "echarts/components";
import { CanvasRenderer } from "echarts/renderers";

echarts.use([BarChart, FunnelChart, LineChart, PieChart, SankeyChart, GridComponent,
  LegendComponent, TitleComponent, TooltipComponent, CanvasRenderer]);
window.echarts = echarts;
