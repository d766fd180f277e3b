// The classroom's behaviour in the browser: deadline countdowns, confirmations, and the live
// refresh of a seat's decision panel when its phase changes. No inline script anywhere (the
// Content-Security-Policy forbids it): pages carry data-* attributes and JSON data blocks.
(function () {
  "use strict";

  // Server and browser clocks differ: count down from the server's time at rendering.
  var skew = 0;
  function readSkew() {
    var el = document.querySelector("[data-server-now]");
    if (el) skew = parseFloat(el.getAttribute("data-server-now")) - Date.now() / 1000;
  }

  function formatLeft(seconds) {
    if (seconds <= 0) return "0:00";
    var s = Math.floor(seconds);
    var m = Math.floor(s / 60);
    var rest = s % 60;
    return m + ":" + (rest < 10 ? "0" : "") + rest;
  }

  function tickDeadlines() {
    var now = Date.now() / 1000 + skew;
    document.querySelectorAll("[data-deadline]").forEach(function (el) {
      var at = parseFloat(el.getAttribute("data-deadline"));
      if (isNaN(at)) return;
      var left = at - now;
      el.textContent = formatLeft(left);
      el.classList.toggle("late", left < 30);
    });
  }

  // <form data-confirm="text">: ask before an action that cannot be undone (end, branch, reassign).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var text = form.getAttribute && form.getAttribute("data-confirm");
    if (text && !window.confirm(text)) event.preventDefault();
  });

  // The status panel is refreshed on every change of the room (server-sent events); the decision
  // panel only when the phase it was drawn for is over, so that a form being filled is kept.
  document.addEventListener("htmx:afterSwap", function (event) {
    readSkew();
    tickDeadlines();
    var status = document.getElementById("status-panel");
    var decision = document.getElementById("decision-panel");
    if (!status || !decision || !status.contains(event.detail.elt)) return;
    var marker = status.querySelector("[data-phase-key]");
    if (!marker) return;
    var now = marker.getAttribute("data-phase-key");
    if (now !== decision.getAttribute("data-phase-key") && window.htmx) {
      window.htmx.ajax("GET", decision.getAttribute("data-refresh-url"), { target: "#decision-panel", swap: "outerHTML" });
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    readSkew();
    tickDeadlines();
    window.setInterval(tickDeadlines, 1000);
  });
})();
