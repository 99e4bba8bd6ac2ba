// Kehu's own front-end glue. No inline scripts: the CSP allows only files from /static/.
(function () {
  "use strict";
  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }
  // Every htmx request carries the CSRF token, so htmx posts pass Django's CSRF check.
  document.addEventListener("htmx:configRequest", function (event) {
    event.detail.headers["X-CSRFToken"] = csrfToken();
  });
  // Elements with data-confirm ask before their form submits.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });
  // The language switch submits itself on change.
  document.addEventListener("change", function (event) {
    var field = event.target;
    if (field.matches && field.matches("[data-autosubmit]")) {
      field.form.submit();
    }
  });
  // Copy buttons: API tokens shown once, phone numbers as shown (masked or revealed).
  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    // Plain HTTP on a LAN has no clipboard API: the older way still works there.
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    document.execCommand("copy");
    area.remove();
    return Promise.resolve();
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-copy]");
    if (!button) return;
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source) return;
    copyText(source.textContent.trim()).then(function () {
      button.classList.add(button.classList.contains("btn-link") ? "text-success" : "btn-success");
      button.setAttribute("data-copied", "true");
    });
  });
  // Installable as an app (PWA): the worker only shows an offline page when the network is
  // down; it never stores pages (see core/pwa.py). Browsers allow it on HTTPS and localhost.
  var worker = document.documentElement.getAttribute("data-service-worker");
  if (worker && "serviceWorker" in navigator && window.isSecureContext) {
    window.addEventListener("load", function () {
      navigator.serviceWorker.register(worker, { scope: "/" }).catch(function () {});
    });
  }
})();
