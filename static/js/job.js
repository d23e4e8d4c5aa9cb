// Live status of one job: asks the portal every 2 s until the job is finished.
(function () {
  "use strict";
  var script = document.currentScript;
  var url = script.dataset.statusUrl;
  var state = JSON.parse(document.getElementById("job-status").textContent);
  var lastEvent = state.events.length ? state.events[state.events.length - 1].id : 0;

  function render(s) {
    var pill = document.getElementById("status");
    pill.textContent = s.status_label;
    pill.className = "pill pill-" + s.status;
    pill.dataset.status = s.status;
    document.getElementById("upstream-status").textContent = s.upstream_status || "";
    document.getElementById("progress-bar").style.width = s.progress + "%";
    var err = document.getElementById("error");
    if (s.error) { err.textContent = s.error.message; err.hidden = false; }
    var list = document.getElementById("timeline");
    s.events.forEach(function (e) {
      if (e.id <= lastEvent) { return; }
      var li = document.createElement("li");
      li.className = "ev ev-" + e.kind;
      li.dataset.id = e.id;
      var t = document.createElement("time");
      t.textContent = e.created_at.slice(11, 19);
      li.appendChild(t);
      li.appendChild(document.createTextNode(" " + e.message));
      list.appendChild(li);
      lastEvent = e.id;
      if (e.image) { addImage(e); }
    });
    if (s.video && !document.getElementById("video")) {
      var v = document.createElement("video");
      v.id = "video";
      v.controls = true;
      v.preload = "metadata";
      v.src = s.video.url;
      document.getElementById("player").appendChild(v);
    }
    var cancel = document.getElementById("cancel-form");
    if (cancel) { cancel.hidden = !s.cancelable; }
    var queue = document.getElementById("queue");
    queue.hidden = !s.queue;
    queue.textContent = s.queue ? s.queue.text : "";
    if (s.key) { document.getElementById("job-key").textContent = s.key; }
  }

  // An image the upstream made on the way (or the poster), shown as it comes.
  function addImage(e) {
    var fig = document.createElement("figure");
    var img = document.createElement("img");
    img.src = e.image.url;
    img.alt = e.message;
    img.loading = "lazy";
    var cap = document.createElement("figcaption");
    cap.textContent = e.message;
    fig.appendChild(img);
    fig.appendChild(cap);
    document.getElementById("images").appendChild(fig);
  }

  function tick() {
    fetch(url + "?after=" + lastEvent, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (s) { render(s); if (!s.terminal) { setTimeout(tick, 2000); } })
      .catch(function () { setTimeout(tick, 5000); });
  }

  if (!state.terminal) { setTimeout(tick, 1000); }
})();
