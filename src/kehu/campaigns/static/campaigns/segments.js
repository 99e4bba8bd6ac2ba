// The segment condition builder: edits the JSON tree in #id_conditions
// ({"match": "all"|"any", "conditions": [{"field", "op", "value"} | group]}) with one row per
// condition and nested groups, and tells htmx to recount ("segment-changed") after each edit.
// The fields, operators and values come from the page (#segment-catalogue, built by
// kehu.campaigns.selectors.segments.field_catalogue); the server validates everything again.
(function () {
  "use strict";
  var root = document.getElementById("segment-builder");
  var text = document.getElementById("id_conditions");
  var catalogueNode = document.getElementById("segment-catalogue");
  if (!root || !text || !catalogueNode) return;
  var catalogue = JSON.parse(catalogueNode.textContent);
  var targetSelect = document.getElementById("id_target");
  var kindSelect = document.getElementById("id_kind");
  var words = root.dataset;
  var state;

  function target() {
    var hidden = document.querySelector('input[type=hidden][name=target]');
    return (hidden || targetSelect).value;
  }
  function fields() { return catalogue[target()] || []; }
  function fieldOf(name) {
    var list = fields();
    for (var i = 0; i < list.length; i++) if (list[i].name === name) return list[i];
    return null;
  }
  function load() {
    try { state = JSON.parse(text.value || "{}"); } catch (e) { state = {}; }
    if (!state || typeof state !== "object" || !Array.isArray(state.conditions)) {
      state = { match: "all", conditions: [] };
    }
  }
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "text") node.textContent = attrs[key];
      else node.setAttribute(key, attrs[key]);
    });
    (children || []).forEach(function (child) { if (child) node.appendChild(child); });
    return node;
  }
  function changed() {
    text.value = JSON.stringify(state);
    document.body.dispatchEvent(new CustomEvent("segment-changed"));
  }
  function option(value, label, selected) {
    var node = el("option", { value: value, text: label });
    if (selected) node.selected = true;
    return node;
  }
  function newCondition() {
    var first = fields()[0];
    return { field: first.name, op: first.ops[0].op, value: defaultValue(first, first.ops[0].op) };
  }
  function defaultValue(field, op) {
    if (field.kind === "bool") return true;
    if (field.kind === "moment") {
      if (op === "within_days" || op === "older_than_days") return 30;
      if (op === "never") return null;
      var today = new Date().toISOString().slice(0, 10);
      return op === "between" ? [today, today] : today;
    }
    if (field.kind === "score") return field.name === "churn_score" ? 60 : 4;
    if (field.kind === "text") return "";
    return [];
  }

  function valueEditor(item, field) {
    var box = el("div", { class: "segment-value flex-grow-1" });
    var kind = field.kind;
    if (kind === "choice" || kind === "tree" || kind === "ids") {
      var select = el("select", { class: "form-select form-select-sm", multiple: "multiple", size: "4", "aria-label": field.label });
      var chosen = (item.value || []).map(String);
      field.choices.forEach(function (pair) {
        select.appendChild(option(pair[0], pair[1], chosen.indexOf(String(pair[0])) >= 0));
      });
      select.addEventListener("change", function () {
        var values = Array.prototype.filter.call(select.options, function (o) { return o.selected; })
          .map(function (o) { return kind === "ids" ? parseInt(o.value, 10) : o.value; });
        item.value = values;
        changed();
      });
      box.appendChild(select);
    } else if (kind === "bool") {
      var yesNo = el("select", { class: "form-select form-select-sm", "aria-label": field.label });
      yesNo.appendChild(option("true", words.yes, item.value === true));
      yesNo.appendChild(option("false", words.no, item.value === false));
      yesNo.addEventListener("change", function () { item.value = yesNo.value === "true"; changed(); });
      box.appendChild(yesNo);
    } else if (kind === "moment" && item.op === "between") {
      var range = Array.isArray(item.value) ? item.value : ["", ""];
      [0, 1].forEach(function (index) {
        var input = el("input", { type: "date", class: "form-control form-control-sm mb-1", value: range[index] || "", "aria-label": index ? words.to : words.from });
        input.addEventListener("change", function () { range[index] = input.value; item.value = range; changed(); });
        box.appendChild(input);
      });
    } else if (kind === "moment" && (item.op === "before" || item.op === "after")) {
      var day = el("input", { type: "date", class: "form-control form-control-sm", value: typeof item.value === "string" ? item.value : "", "aria-label": field.label });
      day.addEventListener("change", function () { item.value = day.value; changed(); });
      box.appendChild(day);
    } else if (kind === "moment" && item.op === "never") {
      item.value = null;
    } else if (kind === "moment" || kind === "score") {
      var number = el("input", { type: "number", class: "form-control form-control-sm", value: item.value == null ? "" : item.value, step: kind === "score" ? "0.5" : "1", min: "0", inputmode: "decimal", "aria-label": field.label });
      number.addEventListener("input", function () {
        var parsed = kind === "score" ? parseFloat(number.value) : parseInt(number.value, 10);
        item.value = isNaN(parsed) ? number.value : parsed;
        changed();
      });
      box.appendChild(number);
    } else {
      var input = el("input", { type: "text", class: "form-control form-control-sm", value: item.value || "", maxlength: "100", "aria-label": field.label });
      input.addEventListener("input", function () { item.value = input.value; changed(); });
      box.appendChild(input);
    }
    return box;
  }

  function conditionRow(item, parent) {
    var row = el("div", { class: "segment-condition d-flex flex-wrap gap-2 align-items-start border rounded p-2 mb-2 bg-body" });
    var fieldSelect = el("select", { class: "form-select form-select-sm segment-field", "aria-label": words.field });
    var groups = {};
    fields().forEach(function (f) {
      var holder = fieldSelect;
      if (f.group) {
        holder = groups[f.group] || (groups[f.group] = fieldSelect.appendChild(el("optgroup", { label: f.group })));
      }
      holder.appendChild(option(f.name, f.label, f.name === item.field));
    });
    var field = fieldOf(item.field) || fields()[0];
    var opSelect = el("select", { class: "form-select form-select-sm segment-op", "aria-label": words.operator });
    field.ops.forEach(function (o) { opSelect.appendChild(option(o.op, o.label, o.op === item.op)); });
    fieldSelect.addEventListener("change", function () {
      var f = fieldOf(fieldSelect.value);
      item.field = f.name; item.op = f.ops[0].op; item.value = defaultValue(f, item.op);
      render(); changed();
    });
    opSelect.addEventListener("change", function () {
      var before = item.op;
      item.op = opSelect.value;
      if (field.kind === "moment" && before !== item.op) item.value = defaultValue(field, item.op);
      render(); changed();
    });
    var remove = el("button", { type: "button", class: "btn btn-sm btn-outline-danger", "aria-label": words.remove, title: words.remove }, [el("i", { class: "bi bi-x-lg" })]);
    remove.addEventListener("click", function () {
      parent.conditions.splice(parent.conditions.indexOf(item), 1);
      render(); changed();
    });
    row.appendChild(el("div", { class: "segment-pick d-flex flex-wrap gap-2 flex-grow-1" }, [fieldSelect, opSelect]));
    row.appendChild(valueEditor(item, field));
    row.appendChild(remove);
    return row;
  }

  function groupBox(group, parent, depth) {
    var box = el("div", { class: "segment-group" + (depth ? " border-start border-3 ps-2 mb-2" : "") });
    var head = el("div", { class: "d-flex flex-wrap gap-2 align-items-center mb-2" });
    var match = el("select", { class: "form-select form-select-sm w-auto segment-match", "aria-label": words.all });
    match.appendChild(option("all", words.all, group.match !== "any"));
    match.appendChild(option("any", words.any, group.match === "any"));
    match.addEventListener("change", function () { group.match = match.value; changed(); });
    head.appendChild(match);
    if (parent) {
      var drop = el("button", { type: "button", class: "btn btn-sm btn-outline-danger ms-auto", text: words.remove });
      drop.addEventListener("click", function () {
        parent.conditions.splice(parent.conditions.indexOf(group), 1);
        render(); changed();
      });
      head.appendChild(drop);
    }
    box.appendChild(head);
    group.conditions.forEach(function (item) {
      box.appendChild(item.field !== undefined ? conditionRow(item, group) : groupBox(item, group, depth + 1));
    });
    var actions = el("div", { class: "d-flex flex-wrap gap-2" });
    var addCondition = el("button", { type: "button", class: "btn btn-sm btn-outline-primary segment-add", text: "+ " + words.addCondition });
    addCondition.addEventListener("click", function () { group.conditions.push(newCondition()); render(); changed(); });
    actions.appendChild(addCondition);
    if (depth < 3) {
      var addGroup = el("button", { type: "button", class: "btn btn-sm btn-outline-secondary segment-add-group", text: "+ " + words.addGroup });
      addGroup.addEventListener("click", function () {
        group.conditions.push({ match: group.match === "any" ? "all" : "any", conditions: [newCondition()] });
        render(); changed();
      });
      actions.appendChild(addGroup);
    }
    box.appendChild(actions);
    return box;
  }

  function render() {
    root.textContent = "";
    if (kindSelect && kindSelect.value === "static") {
      root.appendChild(el("p", { class: "text-body-secondary mb-0", text: words.static }));
      return;
    }
    root.appendChild(groupBox(state, null, 0));
  }

  if (targetSelect) {
    targetSelect.addEventListener("change", function () {
      state = { match: "all", conditions: [] };
      render(); changed();
    });
  }
  if (kindSelect) kindSelect.addEventListener("change", function () { render(); changed(); });
  text.addEventListener("change", function () { load(); render(); changed(); });
  load();
  render();
})();
