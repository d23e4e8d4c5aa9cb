// Template preview loops (templates/videos/_template_poster.html): a muted clip plays only
// while its card is on screen, and never for someone who asks for less motion; until then,
// and without JavaScript, the card shows its still poster. Nothing is downloaded for a card
// that is never scrolled to (the clips have preload="none").
(function () {
  "use strict";
  var clips = document.querySelectorAll("video[data-preview]");
  if (!clips.length || !("IntersectionObserver" in window)) return;
  var calm = window.matchMedia("(prefers-reduced-motion: reduce)");

  function play(video) {
    var started = video.play();
    if (started && started.catch) started.catch(function () {}); // autoplay refused: stay still
  }

  var seen = new IntersectionObserver(function (entries) {
    entries.forEach(function (entry) {
      if (entry.isIntersecting && !calm.matches) play(entry.target);
      else entry.target.pause();
    });
  }, { threshold: 0.5 });
  clips.forEach(function (video) { seen.observe(video); });

  calm.addEventListener("change", function () {
    clips.forEach(function (video) {
      seen.unobserve(video);
      seen.observe(video); // calls back at once: plays it if on screen and motion is fine
    });
  });
})();
