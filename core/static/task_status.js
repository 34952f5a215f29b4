/* Follows a background task a page started: every element with data-task-status="<status URL>"
   (core.admin.views_jobs.job_status) shows its state and progress until it ends. The page can be
   left and opened again: the task runs in the workers, not in the page. No inline script (CSP). */
(function () {
  "use strict";
  function follow(box) {
    var url = box.getAttribute("data-task-status");
    var bar = box.querySelector("[data-task-bar]");
    var text = box.querySelector("[data-task-text]");
    var labels = JSON.parse(box.getAttribute("data-task-labels") || "{}");
    function show(status) {
      var label = labels[status.state] || status.state;
      var figures = status.total ? " " + (status.done || 0).toLocaleString() + " / " + status.total.toLocaleString() : "";
      text.textContent = label + figures + (status.error ? " — " + status.error.split("\n")[0] : "");
      if (bar) {
        var percent = status.finished && status.state === "ok" ? 100 : (status.percent || 0);
        bar.style.width = percent + "%";
        bar.setAttribute("aria-valuenow", String(percent));
        bar.classList.toggle("bg-danger", status.state === "failed");
        bar.classList.toggle("bg-success", status.state === "ok");
        bar.classList.toggle("progress-bar-animated", !status.finished);
      }
      var download = box.querySelector("[data-task-download]");
      if (download && status.download_url) {
        download.setAttribute("href", status.download_url);
        download.classList.remove("d-none");
      }
      box.setAttribute("data-task-state", status.state);
    }
    function poll() {
      fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
        .then(function (response) { if (!response.ok) { throw new Error(response.status); } return response.json(); })
        .then(function (status) { show(status); if (!status.finished) { window.setTimeout(poll, 1500); } })
        .catch(function () { window.setTimeout(poll, 5000); });
    }
    poll();
  }
  document.querySelectorAll("[data-task-status]").forEach(follow);
})();
