// The job form: a live character count with the limit on text fields (data-limit), and the
// provider's image rules checked in the browser before anything is uploaded (data-max-bytes,
// data-image-types, data-min-short-side, data-min-aspect, data-max-aspect). The server checks
// everything again (videos.images, videos.forms); the wording here is the server's.
(function () {
  "use strict";
  var form = document.getElementById("job-form");
  if (!form) { return; }

  function fieldBox(input) { return input.closest(".field"); }

  // Once the person changes a field, the server's earlier refusal of it no longer applies.
  form.addEventListener("change", function (event) { dropServerError(event.target); });
  form.addEventListener("input", function (event) { dropServerError(event.target); });
  function dropServerError(input) {
    var box = input && input.closest && fieldBox(input);
    if (!box) { return; }
    box.querySelectorAll(".error:not(.client)").forEach(function (p) { p.remove(); });
    if (!box.querySelector(".error")) { box.classList.remove("has-error"); }
  }

  // One client-side error per field, next to it (role=alert), like the server's.
  function setError(input, message) {
    var box = fieldBox(input);
    var p = box.querySelector(".error.client");
    if (!message) {
      if (p) { p.remove(); }
      if (!box.querySelector(".error")) { box.classList.remove("has-error"); }
      input.removeAttribute("aria-invalid");
      return;
    }
    if (!p) {
      p = document.createElement("p");
      p.className = "error client";
      p.setAttribute("role", "alert");
      p.id = input.id + "-client-error";
      box.appendChild(p);
    }
    p.textContent = message;
    box.classList.add("has-error");
    input.setAttribute("aria-invalid", "true");
  }

  // --- Character counters --------------------------------------------------------------
  form.querySelectorAll("[data-limit]").forEach(function (input) {
    var limit = parseInt(input.getAttribute("data-limit"), 10);
    var out = document.createElement("small");
    out.className = "counter muted";
    out.id = input.id + "-count";
    out.setAttribute("aria-live", "polite");
    input.setAttribute("aria-describedby", ((input.getAttribute("aria-describedby") || "") + " " + out.id).trim());
    input.insertAdjacentElement("afterend", out);
    function update() {
      var n = input.value.length;
      out.textContent = n + " / " + limit;
      var over = n > limit;
      out.classList.toggle("over", over);
      input.dataset.over = over ? "1" : "";
      setError(input, over ? "At most " + limit + " characters; this has " + n + ". Shorten it." : "");
    }
    input.addEventListener("input", update);
    update();
  });

  // --- Images --------------------------------------------------------------------------
  function ratio(text) { var p = text.split(":"); return parseInt(p[0], 10) / parseInt(p[1], 10); }

  function checkImage(input) {
    var box = fieldBox(input);
    var old = box.querySelector(".preview");
    if (old) { old.remove(); }
    input.dataset.bad = "";
    setError(input, "");
    var file = input.files && input.files[0];
    if (!file) { return Promise.resolve(); }
    var types = input.getAttribute("data-image-types").split(",");
    var names = input.getAttribute("data-image-type-names");
    var maxBytes = parseInt(input.getAttribute("data-max-bytes"), 10);
    var mb = Math.floor(maxBytes / 1048576);
    var fail = function (message) { input.dataset.bad = "1"; setError(input, message); };
    if (types.indexOf(file.type) < 0) { fail("the file is " + (file.type || "not an image") + "; use " + names); return Promise.resolve(); }
    if (file.size >= maxBytes) { fail("the image is " + (file.size / 1048576).toFixed(1) + " MB; it must be under " + mb + " MB"); return Promise.resolve(); }
    return new Promise(function (resolve) {
      var reader = new FileReader();
      reader.onload = function () {
        var img = new Image();
        img.onload = function () {
          var w = img.naturalWidth, h = img.naturalHeight;
          var minSide = parseInt(input.getAttribute("data-min-short-side"), 10);
          var lo = input.getAttribute("data-min-aspect"), hi = input.getAttribute("data-max-aspect");
          var shortSide = Math.min(w, h);
          if (shortSide <= minSide) {
            fail("the shorter side is " + shortSide + " px; it must be more than " + minSide + " px");
          } else if (w / h < ratio(lo) - 1e-9 || w / h > ratio(hi) + 1e-9) {
            fail("the aspect ratio is " + w + ":" + h + "; it must be between " + lo + " and " + hi);
          }
          var fig = document.createElement("figure");
          fig.className = "preview";
          img.alt = "Preview of the chosen image";
          var cap = document.createElement("figcaption");
          cap.className = "muted small-print";
          cap.textContent = w + "×" + h + " px · " + (file.size / 1048576).toFixed(1) + " MB" + (input.dataset.bad ? "" : " · looks fine");
          fig.appendChild(img);
          fig.appendChild(cap);
          input.insertAdjacentElement("afterend", fig);
          resolve();
        };
        img.onerror = function () { fail("the file is not a readable " + names + " image"); resolve(); };
        img.src = reader.result;
      };
      reader.onerror = function () { fail("the file could not be read"); resolve(); };
      reader.readAsDataURL(file);
    });
  }

  var pending = [];
  form.querySelectorAll("input[type=file][data-max-bytes]").forEach(function (input) {
    input.addEventListener("change", function () { pending.push(checkImage(input)); });
    // A file chosen before this script ran (a slow page, or a form the browser restored).
    if (input.files && input.files.length) { pending.push(checkImage(input)); }
  });

  form.addEventListener("submit", function (event) {
    if (form.dataset.checked === "1") { return; }
    event.preventDefault();
    Promise.all(pending).then(function () {
      var bad = form.querySelector("[data-over='1'], [data-bad='1']");
      if (bad) { bad.focus(); return; }
      form.dataset.checked = "1";
      form.submit();
    });
  });
})();
