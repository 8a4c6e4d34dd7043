/* The dashboard's own script (no library): live countdowns, one-click canned replies, select-all.
   Every page is right without it: the server renders the remaining time and the colour. */
(function () {
  "use strict";
  var zh = (document.documentElement.lang || "zh-hans").toLowerCase().indexOf("zh") === 0;
  var AMBER_MS = 24 * 3600 * 1000;

  function human(ms) {
    var s = Math.floor(Math.abs(ms) / 1000);
    var d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
    var parts = [];
    if (d) parts.push(zh ? d + "天" : d + "d");
    if (d || h) parts.push(zh ? h + "小时" : h + "h");
    parts.push(zh ? m + "分" : m + "m");
    var text = parts.join(" ");
    if (ms < 0) return zh ? "已超时 " + text : "overdue by " + text;
    return zh ? "剩余 " + text : text + " left";
  }

  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-countdown]").forEach(function (el) {
      var due = Date.parse(el.getAttribute("data-countdown"));
      if (isNaN(due)) return;
      var left = due - now;
      el.textContent = human(left);
      var box = el.closest(".deadline");
      if (!box) return;
      var state = left < 0 ? "red" : left < AMBER_MS ? "amber" : "ok";
      box.classList.remove("deadline-ok", "deadline-amber", "deadline-red");
      box.classList.add("deadline-" + state);
      box.setAttribute("data-state", state);
    });
  }

  var lastField = null;
  document.addEventListener("focusin", function (e) {
    if (e.target && e.target.matches && e.target.matches("textarea[data-reply-target]")) lastField = e.target;
  });
  document.addEventListener("click", function (e) {
    var btn = e.target.closest && e.target.closest("[data-insert-reply]");
    if (btn) {
      e.preventDefault();
      var field = lastField || document.querySelector("textarea[data-reply-target]");
      if (!field) return;
      var text = btn.getAttribute("data-insert-reply");
      field.value = field.value ? field.value.replace(/\s*$/, "") + "\n" + text : text;
      field.focus();
      return;
    }
    var all = e.target.closest && e.target.closest("[data-select-all]");
    if (all) {
      document.querySelectorAll("input[name='" + all.getAttribute("data-select-all") + "']").forEach(function (cb) {
        cb.checked = all.checked;
      });
    }
  });

  tick();
  setInterval(tick, 1000);
  document.addEventListener("htmx:afterSwap", tick);
})();
