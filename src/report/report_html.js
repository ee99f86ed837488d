/* pinmm check --html: the filters of the matrix (by name or title, by
 * result; also from the page's query string). An error of this script is written into #errors, where a reader
 * of the page (and ctest report_html, in a headless browser) sees it. */
"use strict";
window.onerror = function (msg, src, line) {
  var box = document.getElementById("errors");
  box.hidden = false;
  box.textContent += "script error: " + msg + " (line " + line + ")\n";
};

function applyFilters() {
  var text = document.getElementById("filter-name").value.toLowerCase();
  var result = document.getElementById("filter-result").value;
  var rows = document.querySelectorAll("#matrix > tbody > tr");
  var shown = 0;

  rows.forEach(function (tr) {
    var named = (tr.dataset.name + " " + tr.dataset.title).toLowerCase().indexOf(text) >= 0;
    var has = result === "" || tr.dataset.verdicts.split(" ").indexOf(result) >= 0;

    tr.hidden = !(named && has);
    shown += tr.hidden ? 0 : 1;
  });
  document.getElementById("shown").textContent =
    shown + " of " + rows.length + " scenarios shown";
}

/* index.html?name=g4&result=unexpected opens the page filtered: a link
 * can point at the rows that need a look */
var query = new URLSearchParams(window.location.search);
document.getElementById("filter-name").value = query.get("name") || "";
document.getElementById("filter-result").value = query.get("result") || "";
document.getElementById("filter-name").addEventListener("input", applyFilters);
document.getElementById("filter-result").addEventListener("change", applyFilters);
applyFilters();
/* the script ran to its end */
document.body.dataset.script = "ready";
