"use strict";
// Filters of the findings by severity and rule: no server, no library. The form ships
// hidden, so without script (or in print) every finding is simply listed.
(() => {
  const form = document.getElementById("filters");
  if (!form) return;
  const rows = Array.from(document.querySelectorAll("#findings tr[data-severity]"));
  const groups = Array.from(document.querySelectorAll("#findings .resource"));
  const status = document.getElementById("shown");
  function apply() {
    const severities = new Set(
      Array.from(form.querySelectorAll("input[name=severity]:checked"), (box) => box.value),
    );
    const rule = form.elements.rule.value;
    let visible = 0;
    for (const row of rows) {
      const show = severities.has(row.dataset.severity) && (!rule || row.dataset.rule === rule);
      row.hidden = !show;
      if (show) visible += 1;
    }
    for (const group of groups) {
      group.hidden = !group.querySelector("tr[data-severity]:not([hidden])");
    }
    status.textContent = `Showing ${visible} of ${rows.length} findings.`;
  }
  form.addEventListener("change", apply);
  form.addEventListener("reset", (event) => {
    event.preventDefault(); // reset, then filter, in one go
    for (const box of form.querySelectorAll("input[name=severity]")) box.checked = true;
    form.elements.rule.value = "";
    apply();
  });
  form.hidden = false; // everything is shown as written: nothing to filter yet
})();
