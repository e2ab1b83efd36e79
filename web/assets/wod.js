// wod.js: optional improvements. Every page works without it.
(function () {
  "use strict";

  // Countdowns: <time data-countdown datetime="…"> shows the time left
  // ("left", or what data-countdown says, such as "from now").
  function tick() {
    var now = Date.now();
    document.querySelectorAll("time[data-countdown]").forEach(function (el) {
      var left = Math.max(0, Math.floor((Date.parse(el.getAttribute("datetime")) - now) / 1000));
      var h = Math.floor(left / 3600), m = Math.floor((left % 3600) / 60), s = left % 60;
      var words = el.getAttribute("data-countdown") || "left";
      el.textContent = (h ? h + " h " : "") + (h || m ? m + " min " : "") + s + " s " + words;
    });
  }

  // Live regions: [data-live=URL] is refreshed from URL (an HTML fragment)
  // until the fragment says it is final ([data-final]); the fragment says
  // when to look again ([data-next], in ms).
  function live(el) {
    var url = el.getAttribute("data-live");
    function every() {
      var next = el.querySelector("[data-next]");
      return next ? parseInt(next.getAttribute("data-next"), 10) || 3000 : 3000;
    }
    function refresh() {
      if (document.hidden) { return setTimeout(refresh, every()); }
      fetch(url, { headers: { "Accept": "text/html" }, credentials: "same-origin", cache: "no-store" })
        .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.text(); })
        .then(function (html) {
          if (html !== el.innerHTML) { el.innerHTML = html; tick(); }
          if (!el.querySelector("[data-final]")) { setTimeout(refresh, every()); }
        })
        .catch(function () { setTimeout(refresh, every() * 2); });
    }
    if (!el.querySelector("[data-final]")) { setTimeout(refresh, every()); }
  }

  // Forms with data-confirm ask before they act.
  document.addEventListener("submit", function (e) {
    var msg = e.target.getAttribute && e.target.getAttribute("data-confirm");
    if (msg && !window.confirm(msg)) { e.preventDefault(); }
  });

  document.addEventListener("DOMContentLoaded", function () {
    // A page that answers a form with a secret shown once: a reload must
    // load the plain page, not send the form again (a second token).
    var once = document.querySelector("[data-replace-url]");
    if (once && window.history && history.replaceState) {
      history.replaceState(null, "", once.getAttribute("data-replace-url"));
    }
    // An answer to post back to a learning platform goes by itself.
    document.querySelectorAll("form[data-autosubmit]").forEach(function (f) { f.submit(); });
    tick();
    setInterval(tick, 1000);
    document.querySelectorAll("[data-live]").forEach(live);
  });
})();
