// Keeps #live current: the server pushes the rendered section as `live` events.
// Shows #late-banner when no event came for three ticks (plus a push interval).
(function () {
  var live = document.getElementById("live"), conn = document.getElementById("conn");
  var late = document.getElementById("late-banner"), lateText = document.getElementById("late-text");
  if (!live || !window.EventSource) return;
  var tickMs = parseInt(live.dataset.tickMs || "5000", 10), last = Date.now();
  var es = new EventSource("events?window=" + encodeURIComponent(live.dataset.window || ""));
  function state(text, cls) { if (conn) { conn.textContent = text; conn.className = "conn " + cls; } }
  es.addEventListener("live", function (e) {
    live.innerHTML = e.data; state("live", "on"); last = Date.now();
    if (late) late.hidden = true;
  });
  es.onopen = function () { state("live", "on"); };
  es.onerror = function () { state("reconnecting…", "off"); };
  setInterval(function () {
    var quiet = Date.now() - last;
    if (late && quiet > 3 * tickMs + 1000) {
      late.hidden = false;
      if (lateText) lateText.textContent = "no update for " + Math.round(quiet / 1000) + " s (ticks every " + tickMs / 1000 + " s)";
    }
  }, 1000);
})();
