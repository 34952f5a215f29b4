/* Draws each dashboard card's trend (data-trend: [[ISO day, number], ...], oldest first) as a
 * small line with the vendored ECharts: no axes, a tooltip with the day and its figure. */
(function () {
  "use strict";
  if (typeof echarts === "undefined") {
    return;
  }
  var charts = [];
  document.querySelectorAll(".hcrm-trend[data-trend]").forEach(function (holder) {
    var points = JSON.parse(holder.getAttribute("data-trend"));
    var color = getComputedStyle(document.body).getPropertyValue("--bs-primary").trim() || "#0d6efd";
    var chart = echarts.init(holder, null, {renderer: "svg"});
    chart.setOption({
      animation: false,
      grid: {left: 2, right: 2, top: 4, bottom: 2},
      tooltip: {trigger: "axis", confine: true, formatter: function (items) {
        return items[0].name + ": " + items[0].value;
      }},
      xAxis: {type: "category", show: false, boundaryGap: false, data: points.map(function (p) { return p[0]; })},
      yAxis: {type: "value", show: false, min: 0},
      series: [{type: "line", data: points.map(function (p) { return p[1]; }), showSymbol: false,
                lineStyle: {width: 2, color: color},
                areaStyle: {color: color, opacity: 0.12}}]
    });
    charts.push(chart);
  });
  window.addEventListener("resize", function () {
    charts.forEach(function (chart) { chart.resize(); });
  });
})();
