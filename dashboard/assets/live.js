// Keeps #live current: the server pushes the rendered section as `live` events.
(function () {
  var live = document.getElementById("live"), conn = document.getElementById("conn");
  if (!live || !window.EventSource) return;
  var es = new EventSource("events?window=" + encodeURIComponent(live.dataset.window || ""));
  function state(text, cls) { if (conn) { conn.textContent = text; conn.className = "conn " + cls; } }
  es.addEventListener("live", function (e) { live.innerHTML = e.data; state("live", "on"); });
  es.onopen = function () { state("live", "on"); };
  es.onerror = function () { state("reconnecting…", "off"); };
})();
