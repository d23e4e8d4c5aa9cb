// The batch page's live part: counts, progress bar and the grid of jobs, asked for every few
// seconds until every job has ended (the server renders it: one look, one template).
(function () {
  "use strict";
  var live = document.getElementById("batch-live");
  if (!live || live.getAttribute("data-done") === "1") { return; }
  var url = live.getAttribute("data-status-url");
  var delay = 3000;
  function look() {
    fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (!data) { delay = Math.min(delay * 2, 30000); return; }
        live.innerHTML = data.html;
        if (data.done) { window.location.reload(); return; }  // the buttons change too
        delay = 3000;
      })
      .catch(function () { delay = Math.min(delay * 2, 30000); })
      .finally(function () { if (live.getAttribute("data-done") !== "1") { setTimeout(look, delay); } });
  }
  setTimeout(look, delay);
})();
