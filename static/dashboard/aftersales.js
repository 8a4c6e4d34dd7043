/* Registration form: show only the fields of the chosen one-click filing (只登记 / 退款 / 投诉).
   Without this script every field shows and the server ignores the ones not chosen. */
(function () {
  "use strict";
  var form = document.getElementById("registration-form");
  if (!form) return;
  function sync() {
    var checked = form.querySelector('input[name="filing"]:checked');
    var value = checked ? checked.value : "";
    form.querySelectorAll("[data-filing]").forEach(function (el) {
      var wanted = el.getAttribute("data-filing").split(" ");
      el.hidden = wanted.indexOf(value) === -1;
    });
  }
  form.addEventListener("change", function (e) {
    if (e.target && e.target.name === "filing") sync();
  });
  sync();
})();
