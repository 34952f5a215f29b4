/* HCRM UI helpers. No dependencies; loaded on every page after Bootstrap.
 *
 * Pages carry no inline script or event handler: the Content-Security-Policy allows scripts
 * from HCRM's own files only. Templates ask for behaviour with data attributes instead:
 *
 * data-autosubmit: a <select> (or any form control) with this attribute submits
 *   its form as soon as its value changes. Keep a real submit button nearby (it
 *   may be visually small) so the form still works without JavaScript.
 * data-confirm="question": on a <form>, asked before it is submitted; on a button
 *   or link, asked before the click goes through. Cancel stops it.
 * data-print: on a button, prints the page (the browser's print dialog).
 * data-hotkey="/": on an input, the key focuses it (unless the user is typing elsewhere).
 * data-tab-param="tab" on a Bootstrap tab list: the open tab's data-tab value is kept in
 *   that query parameter, so reloading or sharing the link shows the same tab;
 *   data-tab-reset="a b" names parameters dropped when the tab changes.
 * data-multi-list=", ": an input holding several values separated by these characters
 *   (tags, diagnosis codes) gets suggestions from its <datalist> for the value being typed.
 * data-progress-url on a box: polls that URL each second for JSON {state, percent, done,
 *   total}; updates the .progress-bar inside, the [role=progressbar] meter and the element
 *   named by data-progress-text (with data-progress-rows, "__DONE__ of __TOTAL__");
 *   reloads the page once state is none of data-progress-running (space-separated).
 */
(function () {
  "use strict";

  document.addEventListener("change", function (event) {
    var el = event.target;
    if (!el || !el.form || !el.hasAttribute || !el.hasAttribute("data-autosubmit")) {
      return;
    }
    if (typeof el.form.requestSubmit === "function") {
      el.form.requestSubmit(); // runs validation and the submit listeners (data-confirm)
    } else {
      el.form.submit();
    }
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form && form.hasAttribute && form.hasAttribute("data-confirm")
        && !window.confirm(form.getAttribute("data-confirm"))) {
      event.preventDefault();
    }
  });

  document.addEventListener("click", function (event) {
    var button = event.target && event.target.closest ? event.target.closest("[data-print]") : null;
    if (button) {
      event.preventDefault();
      window.print();
    }
  });

  document.addEventListener("click", function (event) {
    var el = event.target && event.target.closest ? event.target.closest("[data-confirm]") : null;
    if (el && el.tagName !== "FORM" && !window.confirm(el.getAttribute("data-confirm"))) {
      event.preventDefault();
    }
  });

  document.addEventListener("keydown", function (event) {
    var target = event.target;
    if (event.ctrlKey || event.metaKey || event.altKey
        || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName) || target.isContentEditable) {
      return;
    }
    var input = Array.prototype.find.call(document.querySelectorAll("[data-hotkey]"), function (el) {
      return el.getAttribute("data-hotkey") === event.key;
    });
    if (input) {
      event.preventDefault();
      input.focus();
    }
  });

  document.querySelectorAll("[data-tab-param]").forEach(function (tabs) {
    var param = tabs.getAttribute("data-tab-param");
    var reset = (tabs.getAttribute("data-tab-reset") || "").split(" ").filter(Boolean);
    tabs.querySelectorAll("[data-bs-toggle='tab']").forEach(function (button) {
      button.addEventListener("shown.bs.tab", function () {
        var url = new URL(window.location.href);
        url.searchParams.set(param, button.getAttribute("data-tab"));
        reset.forEach(function (name) { url.searchParams.delete(name); });
        url.hash = "";
        window.history.replaceState(null, "", url);
      });
    });
  });

  document.querySelectorAll("input[data-multi-list]").forEach(function (input) {
    var list = document.getElementById(input.getAttribute("list"));
    if (!list) { return; }
    var choices = Array.prototype.map.call(list.options, function (o) { return [o.value, o.textContent]; });
    var separators = input.getAttribute("data-multi-list") || ", ";
    input.addEventListener("input", function () {
      var text = input.value, cut = -1;
      for (var i = 0; i < separators.length; i++) { cut = Math.max(cut, text.lastIndexOf(separators[i])); }
      ["，", "、", ";", "；"].forEach(function (s) { cut = Math.max(cut, text.lastIndexOf(s)); });
      var prefix = text.slice(0, cut + 1), last = text.slice(cut + 1).trim().toLowerCase();
      if (prefix && !/\s$/.test(prefix)) { prefix += " "; }
      list.textContent = "";
      choices.filter(function (c) { return !last || (c[0] + " " + c[1]).toLowerCase().indexOf(last) !== -1; })
        .slice(0, 50).forEach(function (c) {
          var option = document.createElement("option");
          option.value = prefix + c[0];
          option.textContent = c[1];
          list.appendChild(option);
        });
    });
  });

  document.querySelectorAll("[data-progress-url]").forEach(function (box) {
    var bar = box.querySelector(".progress-bar");
    var meter = box.querySelector("[role=progressbar]");
    var text = document.getElementById(box.getAttribute("data-progress-text"));
    var running = (box.getAttribute("data-progress-running") || "").split(" ");
    function poll() {
      fetch(box.getAttribute("data-progress-url"), {headers: {"Accept": "application/json"}, credentials: "same-origin"})
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (p) {
          if (p && running.indexOf(p.state) < 0) { window.location.reload(); return; }
          if (p) {
            if (bar) { bar.style.width = p.percent + "%"; bar.textContent = p.percent + "%"; }
            if (meter) { meter.setAttribute("aria-valuenow", p.percent); }
            if (text && p.total) {
              text.textContent = box.getAttribute("data-progress-rows")
                .replace("__DONE__", p.done).replace("__TOTAL__", p.total);
            }
          }
          window.setTimeout(poll, 1000);
        })
        .catch(function () { window.setTimeout(poll, 1000); });
    }
    window.setTimeout(poll, 1000);
  });
})();
