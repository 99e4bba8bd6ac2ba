// The settings area's row editor: "Add a row" copies the blank last row with the next index.
document.addEventListener("DOMContentLoaded", () => {
  const button = document.getElementById("add-row");
  const body = document.querySelector("#setting-rows tbody");
  if (!button || !body) return;
  button.addEventListener("click", () => {
    const rows = body.querySelectorAll("tr.setting-row");
    const copy = rows[rows.length - 1].cloneNode(true);
    const index = rows.length;
    copy.querySelectorAll("input").forEach((input) => {
      input.name = input.name.replace(/^row-\d+-/, `row-${index}-`);
      if (input.type === "checkbox") input.checked = false;
      else input.value = "";
    });
    body.appendChild(copy);
    copy.querySelector("input").focus();
  });
});
