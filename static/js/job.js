// Live status of one job: asks the portal every 2 s until the job is finished, and updates
// the page in place (status, progress bar, timeline, pushes, images, player, actions).
(function () {
  "use strict";
  var script = document.currentScript;
  var url = script.dataset.statusUrl;
  var state = JSON.parse(document.getElementById("job-status").textContent);
  var lastEvent = state.events.length ? state.events[state.events.length - 1].id : 0;

  function $(id) { return document.getElementById(id); }

  function entry(e) {
    var li = document.createElement("li");
    li.className = "ev ev-" + e.kind;
    li.dataset.id = e.id;
    var t = document.createElement("time");
    t.setAttribute("datetime", e.created_at);
    t.title = e.created_at;
    t.textContent = e.created_at.slice(11, 19);
    li.appendChild(t);
    li.appendChild(document.createTextNode(" " + e.message));
    return li;
  }

  function render(s) {
    var pill = $("status");
    pill.textContent = s.status_label;
    pill.className = "pill pill-" + s.status;
    pill.dataset.status = s.status;
    $("upstream-status").textContent = s.upstream_status || "";
    $("progress-bar").style.width = s.progress + "%";
    var bar = $("progress");
    bar.setAttribute("aria-valuenow", s.progress);
    bar.hidden = s.terminal && s.status !== "succeeded";
    var pct = $("progress-text");
    pct.textContent = s.progress + "%";
    pct.hidden = s.terminal;
    var err = $("error");
    if (s.error) { err.textContent = s.error.message; err.hidden = false; }
    s.events.forEach(function (e) {
      if (e.id <= lastEvent) { return; }
      if (e.kind === "callback") {
        // Pushes only say "look again": folded away, counted.
        $("push-list").appendChild(entry(e));
        $("pushes").hidden = false;
        $("push-count").textContent = $("push-list").children.length;
      } else {
        $("timeline").appendChild(entry(e));
      }
      lastEvent = e.id;
      if (e.image) { addImage(e); }
    });
    if (s.video && !$("video")) {
      var v = document.createElement("video");
      v.id = "video";
      v.controls = true;
      v.playsInline = true;
      v.preload = "metadata";
      v.src = s.video.url;
      if (s.video.poster_url) { v.poster = s.video.poster_url; }
      var wait = $("poster-wait");
      if (wait) { wait.remove(); }
      $("player").appendChild(v);
      $("download").hidden = false;
    }
    if (s.terminal && s.status !== "succeeded") {
      var price = $("price");
      if (price && price.textContent.indexOf("not charged") < 0) {
        price.textContent = "";
        var strong = document.createElement("strong");
        strong.textContent = "not charged";
        price.appendChild(strong);
      }
    }
    var cancel = $("cancel-form");
    if (cancel) { cancel.hidden = !s.cancelable; }
    var queue = $("queue");
    queue.hidden = !s.queue;
    queue.textContent = s.queue ? s.queue.text : "";
    if (s.key) { $("job-key").textContent = s.key; }
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
    $("images").appendChild(fig);
    $("images-box").hidden = false;
  }

  function tick() {
    fetch(url + "?after=" + lastEvent, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (s) { render(s); if (!s.terminal) { setTimeout(tick, 2000); } })
      .catch(function () { setTimeout(tick, 5000); });
  }

  if (!state.terminal) { setTimeout(tick, 1000); }
})();
