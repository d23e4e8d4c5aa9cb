// The job list: rows of running jobs update in place (status pill and percent) every 4 s,
// until they finish. Only the rows' own status URLs are asked; no events are fetched.
(function () {
  "use strict";
  function update(row) {
    var url = row.getAttribute("data-status-url");
    // after=a huge id: the status without the job's events.
    return fetch(url + "?after=999999999999", { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (s) {
        if (!s) { return; }
        var pill = row.querySelector(".pill");
        pill.textContent = s.status_label;
        pill.className = "pill pill-" + s.status;
        pill.dataset.status = s.status;
        var pct = row.querySelector(".row-progress");
        if (pct) { pct.textContent = s.terminal ? "" : s.progress + "%"; }
        if (s.terminal) { row.removeAttribute("data-status-url"); }
      })
      .catch(function () {});
  }
  function tick() {
    var rows = document.querySelectorAll("tr[data-status-url]");
    if (!rows.length) { return; }
    Promise.all(Array.prototype.map.call(rows, update)).then(function () { setTimeout(tick, 4000); });
  }
  setTimeout(tick, 2000);
})();
