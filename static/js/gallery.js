// The gallery filters as you type or choose (the same filters also work as a plain GET form).
(function () {
  "use strict";
  var form = document.getElementById("gallery-filters");
  if (!form) { return; }
  var q = form.elements.q, provider = form.elements.provider, kind = form.elements.kind;
  var tiles = document.querySelectorAll("#gallery .tile");
  function apply() {
    var words = q.value.toLowerCase().trim().split(/\s+/).filter(Boolean);
    var shown = 0;
    tiles.forEach(function (tile) {
      var text = tile.getAttribute("data-search");
      var ok = words.every(function (w) { return text.indexOf(w) >= 0; }) &&
        (!provider.value || tile.getAttribute("data-provider") === provider.value) &&
        (!kind.value || tile.getAttribute("data-kind") === kind.value);
      tile.hidden = !ok;
      if (ok) { shown++; }
    });
    document.getElementById("gallery-none").hidden = shown > 0 || !tiles.length;
  }
  q.addEventListener("input", apply);
  provider.addEventListener("change", apply);
  kind.addEventListener("change", apply);
  form.addEventListener("submit", function (e) { e.preventDefault(); apply(); });
})();
