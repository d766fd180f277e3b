// Immediate validation of a seat's decision, against the bounds the server sent with the form
// (its data-legal attribute, JSON: what Game.legal gives this seat now). The server checks
// everything again on submission; this only tells the student at once.
(function () {
  "use strict";

  function legal() {
    var form = document.getElementById("decision-form");
    var text = form && form.getAttribute("data-legal");
    if (!text) return null;
    try {
      return JSON.parse(text);
    } catch (e) {
      return null;
    }
  }

  function money(x) {
    return (Math.round(x * 1000) / 1000).toLocaleString(undefined, { maximumFractionDigits: 3 });
  }

  function setError(row, text) {
    var out = document.getElementById("error-" + row);
    if (out) out.textContent = text || "";
  }

  // ---------------------------------------------------------------- a power's offers
  function checkOffers(form, data) {
    var used = 0;
    var bad = false;
    var count = 0;
    for (var i = 0; i < data.max_offers; i++) {
      var move = form.querySelector("#move-" + i);
      var host = form.querySelector("#host-" + i);
      var size = form.querySelector("#size-" + i);
      if (!move || !host || !size) continue;
      [move, host, size].forEach(function (el) { el.classList.remove("invalid"); });
      var spec = data.moves[move.value];
      // Hosts this move may go to now (a satellite offer needs the host's licence, debt relief a debt).
      Array.prototype.forEach.call(host.options, function (opt) {
        opt.disabled = Boolean(opt.value) && Boolean(spec) && !(opt.value in spec.targets);
      });
      if (!move.value) {
        setError(i, host.value || size.value ? "choose a move, or clear the row" : "");
        if (host.value || size.value) { move.classList.add("invalid"); bad = true; }
        continue;
      }
      count += 1;
      if (!spec) { setError(i, "this move is not available now"); move.classList.add("invalid"); bad = true; continue; }
      var target = spec.targets[host.value];
      var top = target ? target.size_max : spec.size_max;
      size.min = spec.size_min;
      size.max = top;
      var value = parseFloat(size.value);
      var message = "";
      if (!host.value) { message = "choose a host"; host.classList.add("invalid"); }
      else if (!target) { message = "cannot be offered to this host now"; host.classList.add("invalid"); }
      else if (size.value === "" || isNaN(value)) { message = "enter a size in USD bn"; size.classList.add("invalid"); }
      else if (value < spec.size_min - 1e-9 || value > top + 1e-9) {
        message = "size must be between " + money(spec.size_min) + " and " + money(top) + " USD bn";
        size.classList.add("invalid");
      }
      if (message) { bad = true; setError(i, message); continue; }
      used += value * spec.public_cost_share;
      setError(i, value > target.room_max + 1e-9
        ? "legal, but above what the host can take (" + money(target.room_max) + "): it will refuse"
        : "");
    }
    var left = data.budget - used;
    var leftEl = document.getElementById("budget-left");
    if (leftEl) {
      leftEl.textContent = money(left);
      leftEl.classList.toggle("over", left < -1e-9);
    }
    var usedEl = document.getElementById("budget-used");
    if (usedEl) usedEl.textContent = money(used);
    if (left < -1e-9) bad = true;
    var button = form.querySelector("#submit-decision");
    if (button) button.disabled = bad;
    var summary = document.getElementById("form-summary");
    if (summary) {
      summary.textContent = bad
        ? "Fix the marked rows before submitting."
        : count === 0 ? "No offers: submitting passes this turn." : count + (count === 1 ? " offer" : " offers") + " ready.";
    }
  }

  // ---------------------------------------------------------------- a host's answers
  function checkAnswers(form, data) {
    var absorption = 0;
    var debt = 0;
    var count = 0;
    form.querySelectorAll("input[name=accept]").forEach(function (box) {
      if (!box.checked) return;
      count += 1;
      absorption += parseFloat(box.getAttribute("data-absorption")) || 0;
      debt += parseFloat(box.getAttribute("data-debt")) || 0;
    });
    var roomLeft = data.absorption_room - absorption;
    var debtLeft = data.debt_room - debt;
    var a = document.getElementById("absorption-left");
    var d = document.getElementById("debt-left");
    if (a) { a.textContent = money(roomLeft); a.classList.toggle("over", roomLeft < -1e-9); }
    if (d) { d.textContent = money(debtLeft); d.classList.toggle("over", debtLeft < -1e-9); }
    var bad = roomLeft < -1e-9 || debtLeft < -1e-9;
    var button = form.querySelector("#submit-decision");
    if (button) button.disabled = bad;
    var summary = document.getElementById("form-summary");
    if (summary) {
      summary.textContent = bad
        ? (roomLeft < -1e-9 ? "Beyond what your economy can absorb this turn. " : "")
          + (debtLeft < -1e-9 ? "Beyond your debt ceiling." : "")
        : count === 0 ? "Accepting nothing: every offer will be refused." : count + (count === 1 ? " offer" : " offers") + " accepted.";
    }
  }

  function check() {
    var form = document.getElementById("decision-form");
    var data = legal();
    if (!form || !data) return;
    if (data.kind === "power") checkOffers(form, data);
    else checkAnswers(form, data);
  }

  document.addEventListener("input", check);
  document.addEventListener("change", check);
  document.addEventListener("htmx:afterSwap", check);
  document.addEventListener("DOMContentLoaded", check);
})();
