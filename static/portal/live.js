// Live refresh for the dashboards: every element with data-live-url is fetched again
// every data-live-every seconds and its content swapped in place; no page reload.
// Pauses while the tab is hidden; a failed fetch keeps the old content and says so.
(function () {
  "use strict";

  function statusLine(region) {
    return document.querySelector('[data-live-status-for="' + region.id + '"]');
  }

  function refresh(region) {
    if (document.hidden || region.dataset.liveBusy) return;
    region.dataset.liveBusy = "1";
    fetch(region.dataset.liveUrl, {
      credentials: "same-origin",
      headers: { "X-Requested-With": "XMLHttpRequest" },
    })
      .then(function (response) {
        // Redirected means the session ended: reload, which shows the login page.
        if (response.redirected) { window.location.reload(); return null; }
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.text();
      })
      .then(function (html) {
        if (html === null) return;
        region.innerHTML = html;
        region.classList.remove("stale");
        var line = statusLine(region);
        if (line) line.textContent = "Updated " + new Date().toLocaleTimeString() + ".";
      })
      .catch(function (error) {
        region.classList.add("stale");
        var line = statusLine(region);
        if (line) line.textContent = "Could not refresh (" + error.message + "); retrying.";
      })
      .finally(function () {
        delete region.dataset.liveBusy;
      });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-live-url]").forEach(function (region) {
      var every = Math.max(1, Number(region.dataset.liveEvery) || 5) * 1000;
      setInterval(function () { refresh(region); }, every);
    });
  });
})();
