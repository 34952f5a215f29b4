/* HCRM UI helpers. No dependencies; loaded on every page after Bootstrap.
 *
 * data-autosubmit: a <select> (or any form control) with this attribute submits
 * its form as soon as its value changes. Keep a real submit button nearby (it
 * may be visually small) so the form still works without JavaScript.
 */
(function () {
  "use strict";
  document.addEventListener("change", function (event) {
    var el = event.target;
    if (!el || !el.form || !el.hasAttribute || !el.hasAttribute("data-autosubmit")) {
      return;
    }
    if (typeof el.form.requestSubmit === "function") {
      el.form.requestSubmit(); // runs validation and onsubmit handlers
    } else {
      el.form.submit();
    }
  });
})();
