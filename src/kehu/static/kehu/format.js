// The JS twin of kehu/core/formatting.py, for chart axes, labels and tooltips: the same rules
// (¥21,716,000; 2,171.6万 in the user's short unit; USD 1,200; 25.0%; 2026-12-06; 12月6日 周日).
(function () {
  "use strict";

  var WEEKDAYS_ZH = ["周日", "周一", "周二", "周三", "周四", "周五", "周六"];
  var WEEKDAYS_EN = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
  var MONTHS_EN = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

  function isChinese() {
    return (document.documentElement.lang || "").toLowerCase().indexOf("zh") === 0;
  }

  // Half up, like Python's ROUND_HALF_UP on the magnitude, then grouped with commas.
  function grouped(magnitude, places) {
    var factor = Math.pow(10, places);
    var rounded = Math.round(magnitude * factor + 1e-9) / factor;
    var parts = rounded.toFixed(places).split(".");
    parts[0] = parts[0].replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return parts.join(".");
  }

  function toNumber(value) {
    if (value === null || value === undefined || value === "") return null;
    var number = Number(value);
    return isFinite(number) ? number : null;
  }

  function money(value, currency, unit, cents) {
    var number = toNumber(value);
    if (number === null) return "—";
    var code = (currency || "CNY").toUpperCase();
    var sign = number < 0 ? "-" : "";
    var magnitude = Math.abs(number);
    var text;
    if (unit === "wan" && magnitude >= 10000) {
      text = grouped(magnitude / 10000, 1) + "万";
      return sign + (code === "CNY" ? text : code + " " + text);
    }
    var hasCents = cents !== false && Math.round(magnitude * 100) % 100 !== 0;
    text = grouped(magnitude, hasCents ? 2 : 0);
    return sign + (code === "CNY" ? "¥" + text : code + " " + text);
  }

  function percent(value) {
    var number = toNumber(value);
    if (number === null) return "—";
    return (number < 0 ? "-" : "") + grouped(Math.abs(number), 1) + "%";
  }

  function parseDay(value) {
    var parts = String(value).slice(0, 10).split("-");
    return new Date(Number(parts[0]), Number(parts[1]) - 1, Number(parts[2]));
  }

  // "2026-12-06" → "12月6日 周日" / "Sun 6 Dec".
  function dayLabel(value) {
    if (!value) return "—";
    var day = parseDay(value);
    if (isChinese()) {
      return (day.getMonth() + 1) + "月" + day.getDate() + "日 " + WEEKDAYS_ZH[day.getDay()];
    }
    return WEEKDAYS_EN[day.getDay()] + " " + day.getDate() + " " + MONTHS_EN[day.getMonth()];
  }

  // "2026-12" → "2026年12月" / "Dec 2026".
  function monthLabel(value) {
    var parts = String(value).split("-");
    if (isChinese()) return parts[0] + "年" + Number(parts[1]) + "月";
    return MONTHS_EN[Number(parts[1]) - 1] + " " + parts[0];
  }

  // An ECharts axisLabel.formatter for amounts in the user's short unit.
  function moneyAxis(unit, currency) {
    return function (value) { return money(value, currency, unit || "yuan", false); };
  }

  window.kehuFormat = {
    isChinese: isChinese,
    money: money,
    percent: percent,
    dayLabel: dayLabel,
    monthLabel: monthLabel,
    moneyAxis: moneyAxis,
  };
})();
