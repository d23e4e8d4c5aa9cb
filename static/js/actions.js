// Small page behaviours, wired by data attributes instead of inline handlers (the
// Content-Security-Policy allows no inline script): include this file and mark the element.
//   <input data-select-on-click ...>   a click selects the whole value (to copy a link)
//   <button data-print ...>            prints the page
//   <form data-confirm="Question?" ...> asks first; submits only if confirmed
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var target = event.target;
    if (!target || !target.closest) { return; }
    var input = target.closest("[data-select-on-click]");
    if (input && typeof input.select === "function") { input.select(); }
    if (target.closest("[data-print]")) { window.print(); }
  });
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form && form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) { event.preventDefault(); }
  });
})();
