// Small dashboard charts (ECharts): every [data-chart] element is drawn from the json_script
// its attribute names: {categories, categoryKind: "day"|"month", unit, series: [{name, type,
// data, money, axis, stack}]}. Amounts and dates are written by kehuFormat (format.js).
(function () {
  "use strict";

  function categoryLabel(kind) {
    if (kind === "day") {
      // a week's seven days fit when the weekday and the date take two lines
      return function (value) {
        var label = window.kehuFormat.dayLabel(value);
        var cut = label.lastIndexOf(" ");
        return window.kehuFormat.isChinese()
          ? label.slice(cut + 1) + "\n" + label.slice(0, cut)
          : label.slice(0, label.indexOf(" ")) + "\n" + label.slice(label.indexOf(" ") + 1);
      };
    }
    if (kind === "month") return window.kehuFormat.monthLabel;
    return function (value) { return value; };
  }

  function draw(target) {
    var node = document.getElementById(target.getAttribute("data-chart"));
    if (!node || !window.echarts) return;
    var spec = JSON.parse(node.textContent);
    var format = window.kehuFormat;
    var label = categoryLabel(spec.categoryKind);
    var moneyAxis = format.moneyAxis(spec.unit);
    var twoAxes = spec.series.some(function (series) { return series.axis === 1; });
    var axisOf = function (series) {
      return series.money ? moneyAxis : function (value) { return value; };
    };
    // Whole yuan and whole counts: an empty chart's axis reads 0–1, not ¥0.2 steps.
    var yAxis = [{ type: "value", minInterval: 1, axisLabel: { formatter: axisOf(spec.series[0]) } }];
    if (twoAxes) yAxis.push({ type: "value", minInterval: 1, splitLine: { show: false } });
    var chart = window.echarts.init(target);
    chart.setOption({
      tooltip: { trigger: "axis" },
      legend: { top: 0, itemWidth: 12, itemHeight: 8, textStyle: { fontSize: 11 } },
      grid: { left: 8, right: 8, top: 28, bottom: 4, containLabel: true },
      xAxis: {
        type: "category",
        data: spec.categories,
        axisLabel: { formatter: label, fontSize: 10, hideOverlap: true,
                     interval: spec.categoryKind === "day" ? 0 : "auto" },
      },
      yAxis: yAxis,
      series: spec.series.map(function (series) {
        var amount = series.money ? function (value) { return format.money(value); } : null;
        return {
          name: series.name,
          type: series.type,
          stack: series.stack,
          yAxisIndex: series.axis || 0,
          data: series.data,
          tooltip: amount ? { valueFormatter: amount } : undefined,
        };
      }),
    });
    window.addEventListener("resize", function () { chart.resize(); });
    target.setAttribute("data-rendered", "true");
  }

  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("[data-chart]"), draw);
  });
})();
