// Small page behaviours for every page, wired by data attributes instead of inline handlers
// (the Content-Security-Policy allows no inline script): mark the element.
//   <input data-select-on-click ...>   a click selects the whole value (to copy a link)
//   <button data-print ...>            prints the page
//   <form data-confirm="Question?" ...> asks first; submits only if confirmed
//   <button data-copy="text" ...>      copies the text (an absolute URL if it starts with /)
//   <button data-nav-toggle ...>       opens/closes the top bar's links on a phone
//   <time datetime="ISO" data-relative> gets "3 min ago" after its absolute date
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (!target || !target.closest) { return; }
    var input = target.closest("[data-select-on-click]");
    if (input && typeof input.select === "function") { input.select(); }
    if (target.closest("[data-print]")) { window.print(); }
    var copy = target.closest("[data-copy]");
    if (copy) { copyText(copy); }
    var toggle = target.closest("[data-nav-toggle]");
    if (toggle) {
      var open = toggle.getAttribute("aria-expanded") !== "true";
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
      document.body.classList.toggle("nav-open", open);
    }
  });
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form && form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) { event.preventDefault(); }
  });

  function copyText(button) {
    var text = button.getAttribute("data-copy");
    if (text.charAt(0) === "/") { text = window.location.origin + text; }
    var done = function () {
      var label = button.textContent;
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = label; }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { window.prompt("Copy this link", text); });
    } else {
      window.prompt("Copy this link", text);
    }
  }

  // "5 min ago" / "in 3 h": the absolute date stays in the element, this is added after it.
  function relative(iso) {
    var seconds = Math.round((Date.parse(iso) - Date.now()) / 1000);
    var units = [["day", 86400], ["hour", 3600], ["minute", 60], ["second", 1]];
    var fmt = window.Intl && Intl.RelativeTimeFormat ? new Intl.RelativeTimeFormat("en", { numeric: "auto" }) : null;
    for (var i = 0; i < units.length; i++) {
      if (Math.abs(seconds) >= units[i][1] || units[i][1] === 1) {
        var n = Math.round(seconds / units[i][1]);
        return fmt ? fmt.format(n, units[i][0]) : Math.abs(n) + " " + units[i][0] + "s " + (n < 0 ? "ago" : "from now");
      }
    }
    return "";
  }
  function refreshTimes() {
    document.querySelectorAll("time[data-relative]").forEach(function (t) {
      var out = t.nextElementSibling;
      if (!out || !out.classList.contains("rel")) {
        out = document.createElement("span");
        out.className = "rel muted";
        t.parentNode.insertBefore(out, t.nextSibling);
      }
      out.textContent = " (" + relative(t.getAttribute("datetime")) + ")";
    });
  }
  window.portalRefreshTimes = refreshTimes;
  document.addEventListener("DOMContentLoaded", function () {
    var toggle = document.querySelector("[data-nav-toggle]");
    if (toggle) { toggle.hidden = false; }
    refreshTimes();
    setInterval(refreshTimes, 30000);
  });
})();
