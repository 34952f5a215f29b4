/* Draws a report's chart with the vendored ECharts.
 *
 * The page puts the data in <script type="application/json" id="hcrm-report-chart-data">
 * (rendered with |tojson, never concatenated into HTML) as
 *   {kind: "bar"|"line"|"pie", title, x: [labels], xLabel, stack: bool, series: [{name, data: [numbers]}]}
 * and an empty <div id="hcrm-report-chart"> to draw into.
 */
(function () {
  "use strict";
  var holder = document.getElementById("hcrm-report-chart");
  var source = document.getElementById("hcrm-report-chart-data");
  if (!holder || !source || typeof echarts === "undefined") {
    return;
  }
  var data = JSON.parse(source.textContent);

  function cartesian(kind) {
    // Every name shown (ECharts would drop every other one when they crowd): tilted when
    // they are many or long; only a long daily axis lets ECharts thin its labels out.
    var count = data.x.length;
    // A label's width in Latin letters: a Chinese character takes about two.
    var longest = data.x.reduce(function (n, label) {
      return Math.max(n, String(label).replace(/[^\x00-\xff]/g, "xx").length);
    }, 0);
    var every = count <= 40;
    var tilted = every && (count > 12 || longest * count > 100);
    return {
      tooltip: {trigger: "axis"},
      legend: {top: 0, type: "scroll"},
      grid: {left: 8, right: 16, top: 40, bottom: 28, containLabel: true},  // room for the x-axis name
      // Tilted names leave no room under them for the axis's own name: the table heads it.
      xAxis: {type: "category", data: data.x, name: tilted ? "" : data.xLabel, nameLocation: "middle", nameGap: 28,
              axisLabel: every ? {interval: 0, rotate: tilted ? 35 : 0} : {hideOverlap: true}},
      yAxis: {type: "value", minInterval: 1},
      series: data.series.map(function (s) {
        return {name: s.name, type: kind, data: s.data, showSymbol: count <= 60,
                stack: data.stack ? "total" : undefined, emphasis: {focus: "series"}};
      })
    };
  }

  function pie() {
    var first = data.series[0] || {data: []};
    return {
      tooltip: {trigger: "item", formatter: "{b}: {c} ({d}%)"},
      legend: {type: "scroll", orient: "vertical", left: 0, top: "middle"},
      series: [{
        name: first.name, type: "pie", radius: ["35%", "70%"], center: ["60%", "50%"],
        data: data.x.map(function (label, i) { return {name: label, value: first.data[i]}; })
      }]
    };
  }

  var chart = echarts.init(holder);
  var option = data.kind === "pie" ? pie() : cartesian(data.kind === "line" ? "line" : "bar");
  option.aria = {enabled: true};
  chart.setOption(option);
  window.addEventListener("resize", function () { chart.resize(); });
})();
