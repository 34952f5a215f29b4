// The SMS version's length and segment count, shown as one types (form.html). 70 characters per
// segment, as services.SMS_SEGMENT counts them.
(function () {
  "use strict";
  document.querySelectorAll("[data-sms-count-for]").forEach(function (out) {
    var field = document.getElementById(out.dataset.smsCountFor);
    if (!field) { return; }
    var size = parseInt(field.dataset.smsCounter || "70", 10);
    function show() {
      var chars = Array.from(field.value).length;
      var segments = Math.ceil(chars / size);
      out.textContent = out.dataset.template.replace("{chars}", chars).replace("{segments}", segments);
    }
    field.addEventListener("input", show);
    show();
  });
})();
