// Customer list: "select all" for bulk actions; the filter query follows into the bulk form
// ("save filter" has its own script, saved_filters.js).
(function () {
  "use strict";
  document.addEventListener("change", function (event) {
    var box = event.target;
    if (box && box.id === "select-all") {
      document.querySelectorAll("input.row-select").forEach(function (row) {
        row.checked = box.checked;
      });
    }
  });
  document.addEventListener("htmx:pushedIntoHistory", function () {
    var back = document.querySelector("#bulk-form input[name=back]");
    if (back) {
      back.value = window.location.search.replace(/^\?/, "");
    }
  });
})();
