/* Survey statistics charts with the vendored ECharts.
 *
 * Each <div data-chart="ID"> is drawn from <script type="application/json" id="ID">
 * holding {kind: "bar"|"line", x: [labels], series: [{name, data: [numbers]}], max: number|null}
 * (rendered with |tojson; the same figures are in the tables next to the charts).
 */
(function () {
  "use strict";
  if (typeof echarts === "undefined") {
    return;
  }
  document.querySelectorAll("[data-chart]").forEach(function (holder) {
    var source = document.getElementById(holder.getAttribute("data-chart"));
    if (!source) {
      return;
    }
    var data = JSON.parse(source.textContent);
    var chart = echarts.init(holder);
    chart.setOption({
      aria: {enabled: true},
      tooltip: {trigger: "axis"},
      legend: {show: data.series.length > 1, top: 0},
      grid: {left: 8, right: 16, top: data.series.length > 1 ? 32 : 12, bottom: 8, containLabel: true},
      xAxis: {type: "category", data: data.x, axisLabel: {hideOverlap: true}},
      yAxis: {type: "value", minInterval: 1, max: data.max || null},
      series: data.series.map(function (s) {
        return {name: s.name, type: data.kind || "bar", data: s.data, label: {show: data.x.length <= 12, position: "top"}};
      })
    });
    window.addEventListener("resize", function () { chart.resize(); });
  });
})();
