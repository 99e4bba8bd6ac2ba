// Saved filters menu (customers/_saved_filters.html): the list's query follows into "save
// filter" when htmx filters the list without reloading the page.
(function () {
  "use strict";
  if (window.kehuSavedFilters) {
    return;
  }
  window.kehuSavedFilters = true;
  document.addEventListener("htmx:pushedIntoHistory", function () {
    var query = document.getElementById("save-filter-query");
    if (query) {
      query.value = window.location.search.replace(/^\?/, "");
    }
  });
})();
