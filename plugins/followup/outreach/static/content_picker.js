// The "insert from…" picker of the follow-up forms (followup/outreach/_content_picker.html):
// searches the live content sources and inserts an item's text (or its link) into the textarea.
(function () {
  "use strict";
  function insert(target, text) {
    var start = target.selectionStart || target.value.length;
    var end = target.selectionEnd || target.value.length;
    target.value = target.value.slice(0, start) + text + target.value.slice(end);
    target.dispatchEvent(new Event("input", { bubbles: true }));
    target.focus();
  }
  function setup(picker) {
    var target = document.getElementById(picker.dataset.target);
    var box = picker.querySelector("[data-picker-q]");
    var list = picker.querySelector("[data-picker-results]");
    var error = picker.querySelector("[data-picker-error]");
    var timer = null;
    function use(item, field) {
      var url = picker.dataset.useUrl.replace("__source__", encodeURIComponent(item.source)).replace(/0$/, String(item.id));
      fetch(url, { method: "POST", headers: { "X-CSRFToken": picker.dataset.csrf }, credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : item; })
        .then(function (fresh) { insert(target, (field === "link" ? fresh.link : fresh.text) || ""); });
    }
    function render(items) {
      list.textContent = "";
      if (!items.length) {
        var none = document.createElement("li");
        none.className = "list-group-item text-body-secondary";
        none.textContent = picker.dataset.emptyLabel;
        list.appendChild(none);
      }
      items.forEach(function (item) {
        var li = document.createElement("li");
        li.className = "list-group-item d-flex justify-content-between align-items-start gap-2";
        var text = document.createElement("div");
        var title = document.createElement("strong");
        title.textContent = item.title;
        var body = document.createElement("div");
        body.className = "text-body-secondary";
        body.textContent = item.text || item.summary || "";
        text.appendChild(title);
        text.appendChild(body);
        li.appendChild(text);
        var buttons = document.createElement("div");
        buttons.className = "btn-group btn-group-sm";
        [["text", picker.dataset.insertLabel], ["link", picker.dataset.linkLabel]].forEach(function (pair) {
          if (pair[0] === "link" && !item.link) { return; }
          var button = document.createElement("button");
          button.type = "button";
          button.className = "btn btn-outline-primary";
          button.textContent = pair[1];
          button.addEventListener("click", function () { use(item, pair[0]); });
          buttons.appendChild(button);
        });
        li.appendChild(buttons);
        list.appendChild(li);
      });
    }
    function search() {
      var url = picker.dataset.searchUrl + (picker.dataset.searchUrl.indexOf("?") >= 0 ? "&" : "?") +
        "q=" + encodeURIComponent(box.value);
      fetch(url, { credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (data) { error.textContent = data.error || ""; render(data.items || []); });
    }
    box.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(search, 300); });
    picker.addEventListener("toggle", function () { if (picker.open && !list.children.length) { search(); } });
  }
  document.querySelectorAll("[data-content-picker]").forEach(setup);
})();
