// The kanban board: drag a card to another stage; the move is saved through the API with the
// CSRF header. A move back to an earlier stage asks for the reason the server requires. A
// refused move (missing requirements of the target or of a skipped stage, stale version, no
// access) shows the error and reloads the board so the card returns to where the server says
// it is.
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function showError(board, body, fallback) {
    var alert = document.getElementById("board-alert");
    if (!alert) return;
    alert.textContent = "";
    var title = document.createElement("div");
    title.className = "fw-semibold";
    title.textContent = (body && body.detail) || fallback;
    alert.appendChild(title);
    if (body && body.errors) {
      var list = document.createElement("ul");
      list.className = "mb-0";
      Object.keys(body.errors).forEach(function (key) {
        body.errors[key].forEach(function (message) {
          var item = document.createElement("li");
          item.setAttribute("data-requirement", key);
          item.textContent = message;
          list.appendChild(item);
        });
      });
      alert.appendChild(list);
    }
    alert.classList.remove("d-none");
  }

  function hideError() {
    var alert = document.getElementById("board-alert");
    if (alert) alert.classList.add("d-none");
  }

  function reload(board) {
    return fetch(window.location.href, {
      headers: { "HX-Request": "true" },
      credentials: "same-origin",
    })
      .then(function (response) { return response.text(); })
      .then(function (html) {
        board.innerHTML = html;
        init(board);
        board.setAttribute("data-loaded", String(Date.now()));
      });
  }

  function move(board, card, target, reason) {
    var stage = target.getAttribute("data-stage");
    if (reason === undefined && target.getAttribute("data-kind") === "won" &&
        !window.confirm(board.getAttribute("data-confirm-win"))) {
      return reload(board);
    }
    var url = board.getAttribute("data-api") + "/" + card.getAttribute("data-id") + "/stage";
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "X-CSRFToken": csrfToken(),
      },
      body: JSON.stringify({
        stage: stage,
        version: parseInt(card.getAttribute("data-version"), 10),
        reason: reason || "",
      }),
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (body) {
        if (response.status === 422 && body.code === "reason_required" && reason === undefined) {
          var given = window.prompt(board.getAttribute("data-msg-reason"), "");
          if (given !== null && given.trim()) return move(board, card, target, given.trim());
          showError(board, body, board.getAttribute("data-msg-failed"));
          return reload(board);
        }
        if (response.ok) {
          hideError();
        } else if (response.status === 409 && body.code === "stale_version") {
          showError(board, { detail: board.getAttribute("data-msg-stale") }, "");
        } else {
          showError(board, body, board.getAttribute("data-msg-failed"));
        }
        return reload(board);
      });
    }, function () {
      showError(board, null, board.getAttribute("data-msg-failed"));
      return reload(board);
    });
  }

  function init(board) {
    if (!window.Sortable) return;
    board.querySelectorAll(".kanban-cards").forEach(function (list) {
      window.Sortable.create(list, {
        group: "pipeline",
        animation: 150,
        forceFallback: true,
        onEnd: function (event) {
          if (event.from === event.to) return;
          move(board, event.item, event.to);
        },
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var board = document.getElementById("board");
    if (board) {
      init(board);
      board.setAttribute("data-ready", "true");
    }
  });
})();
