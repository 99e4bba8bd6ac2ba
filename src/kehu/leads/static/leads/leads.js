// Leads UI: live SLA / deadline countdowns, and the conversion dialog's htmx redirect.
(function () {
  "use strict";
  function pad(n) { return n < 10 ? "0" + n : String(n); }
  function render(el) {
    var deadline = Date.parse(el.getAttribute("data-deadline"));
    if (isNaN(deadline)) return;
    var left = Math.round((deadline - Date.now()) / 1000);
    var late = left < 0;
    var s = Math.abs(left);
    var d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
    var text = (d ? d + "d " : "") + pad(h) + ":" + pad(m) + ":" + pad(s % 60);
    el.textContent = late ? "-" + text + " " + (el.getAttribute("data-overdue-label") || "") : text;
    el.classList.toggle("text-danger", late || left < 900);
    el.classList.toggle("fw-semibold", late);
  }
  function tick() {
    var all = document.querySelectorAll(".lead-countdown[data-deadline]");
    for (var i = 0; i < all.length; i++) render(all[i]);
  }
  document.addEventListener("DOMContentLoaded", function () { tick(); window.setInterval(tick, 1000); });
  document.addEventListener("htmx:afterSwap", tick);
})();
