// Forecast and funnel charts (ECharts), fed by json_script data in the page.
(function () {
  "use strict";

  function data(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  function forecast() {
    var chartData = data("forecast-data");
    var target = document.getElementById("forecast-chart");
    if (!chartData || !target || !window.echarts) return;
    var keys = ["pipeline", "weighted", "best_case", "committed", "won"];
    var chart = window.echarts.init(target);
    chart.setOption({
      tooltip: {
        trigger: "axis",
        valueFormatter: function (value) { return window.kehuFormat.money(value); },
      },
      // ECharts 6 puts the legend at the bottom, on the month labels: keep it on one
      // scrollable line above the plot, and leave the grid room below it.
      legend: {
        type: "scroll",
        top: 0,
        data: keys.map(function (key) { return chartData.labels[key]; }),
      },
      grid: { top: 48, left: 60, right: 20, bottom: 30 },
      xAxis: { type: "category", data: chartData.periods },
      yAxis: {
        type: "value",
        axisLabel: { formatter: window.kehuFormat.moneyAxis(chartData.unit) },
      },
      series: keys.map(function (key) {
        return {
          name: chartData.labels[key],
          type: key === "weighted" ? "line" : "bar",
          data: chartData.series[key],
        };
      }),
    });
    window.addEventListener("resize", function () { chart.resize(); });
    target.setAttribute("data-rendered", "true");
  }

  function funnel() {
    var chartData = data("funnel-data");
    var target = document.getElementById("funnel-chart");
    if (!chartData || !target || !window.echarts) return;
    var chart = window.echarts.init(target);
    chart.setOption({
      tooltip: {
        trigger: "item",
        formatter: function (item) {
          return item.name + "<br>" + chartData.labels.count + ": " + item.value +
            "<br>" + chartData.labels.amount + ": " + window.kehuFormat.money(item.data.amount);
        },
      },
      series: [{
        type: "funnel",
        sort: "none",
        minSize: "8%",
        left: "10%",
        width: "80%",
        label: { show: true, position: "inside", formatter: "{b}: {c}" },
        data: chartData.steps,
      }],
    });
    window.addEventListener("resize", function () { chart.resize(); });
    target.setAttribute("data-rendered", "true");
  }

  document.addEventListener("DOMContentLoaded", function () {
    forecast();
    funnel();
  });
})();
