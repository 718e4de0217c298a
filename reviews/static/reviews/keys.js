/* The review console's keys (README "Keys"), on the queue and on an item's page.
   Queue: j / k move the highlighted row, x ticks it, o or Enter opens it, r / e / c / s / a
   choose the admin action for the ticked rows (or the highlighted one) and submit it, so the
   confirmation page opens as with the mouse; / goes to the search box. Item: n / p follow the
   page's "Next item" / "Previous item" links, r / e / c / s open that action's form. ? lists the
   keys. Nothing happens while typing in a field, or with Ctrl, Alt or Cmd held. */
(function () {
  "use strict";

  var ACTIONS = { r: "retry", e: "resume", c: "complete", s: "skip", a: "assign_to_me" };
  // [keys, said between them, what they do]
  var HELP = {
    queue: [
      [["j", "k"], " / ", "Next / previous row"],
      [["x"], "", "Tick or untick the row"],
      [["o", "Enter"], " or ", "Open the row's item"],
      [["r"], "", "Retry now: the ticked rows, or this row if none is ticked"],
      [["e"], "", "Resume automation (ticked rows, or this row)"],
      [["c"], "", "Mark completed (ticked rows, or this row)"],
      [["s"], "", "Skip (ticked rows, or this row)"],
      [["a"], "", "Assign to me (ticked rows, or this row)"],
      [["/"], "", "Search"],
      [["?"], "", "Show these keys (Esc closes)"],
    ],
    item: [
      [["n", "p"], " / ", "Next / previous item of the queue you came from"],
      [["r"], "", "Retry now"],
      [["e"], "", "Resume automation"],
      [["c"], "", "Mark completed"],
      [["s"], "", "Skip"],
      [["?"], "", "Show these keys (Esc closes)"],
    ],
  };
  var current = null; // the highlighted row of the queue

  function typing(el) {
    return el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));
  }

  function say(text) {
    var note = document.getElementById("keys-note");
    if (!note) {
      note = document.createElement("div");
      note.id = "keys-note";
      note.setAttribute("role", "status");
      document.body.appendChild(note);
    }
    note.textContent = text;
    clearTimeout(say.timer);
    say.timer = setTimeout(function () { note.textContent = ""; }, 4000);
  }

  function help(page) {
    var dialog = document.getElementById("keys-help");
    if (!dialog) {
      dialog = document.createElement("dialog");
      dialog.id = "keys-help";
      dialog.setAttribute("aria-labelledby", "keys-help-title");
      var rows = HELP[page].map(function (entry) {
        var keys = entry[0].map(function (key) { return "<kbd>" + key + "</kbd>"; });
        return "<tr><th>" + keys.join(entry[1]) + "</th><td>" + entry[2] + "</td></tr>";
      });
      dialog.innerHTML = '<h2 id="keys-help-title">Keys</h2><table>' + rows.join("") +
        "</table><p>Keys do nothing while you type in a field. " +
        '<button type="button" class="button">Close</button></p>';
      dialog.querySelector("button").addEventListener("click", function () { dialog.close(); });
      document.body.appendChild(dialog);
    }
    if (dialog.open) dialog.close(); else dialog.showModal();
  }

  // --- The queue ---------------------------------------------------------------------------

  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("#result_list tbody tr"));
  }

  function move(step) {
    var all = rows();
    if (!all.length) return;
    var at = all.indexOf(current);
    var to = at < 0 ? (step > 0 ? 0 : all.length - 1) : Math.min(Math.max(at + step, 0), all.length - 1);
    if (current) { current.classList.remove("key-current"); current.removeAttribute("aria-current"); }
    current = all[to];
    current.classList.add("key-current");
    current.setAttribute("aria-current", "true");
    current.scrollIntoView({ block: "nearest" });
  }

  function tick() {
    var box = current && current.querySelector("input.action-select");
    if (box) box.click(); // as a click: Django's actions.js counts it and marks the row
    else say("Move to a row with j first.");
  }

  function open() {
    var link = current && current.querySelector("th a, td a");
    if (link) window.location.href = link.href;
  }

  function act(name) {
    var form = document.getElementById("changelist-form");
    var select = form && form.querySelector("select[name=action]");
    if (!select || !select.querySelector('option[value="' + name + '"]')) {
      say("You cannot do that here: acting on the queue needs the resolve permission.");
      return;
    }
    if (!form.querySelector("input.action-select:checked")) {
      if (!current) { say("Move to a row with j, or tick rows with x, first."); return; }
      tick();
    }
    select.value = name;
    var go = form.querySelector("button[name=index]");
    if (form.requestSubmit) form.requestSubmit(go); else go.click();
  }

  function search() {
    var box = document.getElementById("searchbar");
    if (box) { box.focus(); box.select(); }
  }

  // --- The item page -------------------------------------------------------------------------

  function follow(rel) {
    var link = document.querySelector('a[rel="' + rel + '"]');
    if (link) window.location.href = link.href;
    else say(rel === "next" ? "No next item: this is the last of the queue." : "No previous item: this is the first of the queue.");
  }

  function openAction(name) {
    var form = document.querySelector('.review-actions form[action*="/act/' + name + '/"]');
    if (!form) {
      var box = document.querySelector(".review-actions");
      if (box) box.scrollIntoView({ block: "nearest" });
      say("That action is not available for this item; the Actions box says why.");
      return;
    }
    var details = form.closest("details");
    if (details) details.open = true;
    var fields = Array.prototype.slice.call(form.querySelectorAll("select, textarea, input[type=submit]"));
    var empty = fields.filter(function (el) { return el.type === "submit" || !el.value; })[0];
    form.scrollIntoView({ block: "nearest" });
    if (empty) empty.focus(); // the first field still to fill: the note when the reason is chosen
  }

  // --- Keys ----------------------------------------------------------------------------------

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || event.defaultPrevented) return;
    var dialog = document.getElementById("keys-help");
    if (dialog && dialog.open) {
      if (event.key === "?") { event.preventDefault(); dialog.close(); }
      return; // Esc closes the dialog by itself
    }
    if (typing(event.target)) return;
    var page = document.getElementById("changelist-form") || document.getElementById("result_list")
      ? "queue" : document.querySelector(".review-actions") ? "item" : "";
    if (!page) return;
    var key = event.key;
    var handled = true;
    if (key === "?") help(page);
    else if (page === "queue" && (key === "j" || key === "k")) move(key === "j" ? 1 : -1);
    else if (page === "queue" && key === "x") tick();
    else if (page === "queue" && key === "o") open();
    else if (page === "queue" && key === "Enter" && current && !/^(A|BUTTON|SUMMARY)$/.test(event.target.tagName)) open();
    else if (page === "queue" && key === "/") search();
    else if (page === "queue" && ACTIONS[key]) act(ACTIONS[key]);
    else if (page === "item" && (key === "n" || key === "p")) follow(key === "n" ? "next" : "prev");
    else if (page === "item" && ACTIONS[key] && key !== "a") openAction(ACTIONS[key]);
    else handled = false;
    if (handled) event.preventDefault();
  });
})();
