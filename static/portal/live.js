// Live refresh for the dashboards: every element with data-live-url is fetched again
// every data-live-every seconds and its content swapped in place; no page reload.
// Pauses while the tab is hidden; a failed fetch keeps the old content and says so.
// Badges outside a live part (the page head's) follow it: the part carries
// <span data-live-sync="ID" data-src="URL">, and the element with that id gets the URL.
// Badge URLs carry ?v=<state>, so a changed state is a new URL the browser must fetch.
(function () {
  "use strict";

  function statusLine(region) {
    return document.querySelector('[data-live-status-for="' + region.id + '"]');
  }

  function syncOutside(region) {
    region.querySelectorAll("[data-live-sync]").forEach(function (marker) {
      var target = document.getElementById(marker.dataset.liveSync);
      if (target && target.getAttribute("src") !== marker.dataset.src) {
        target.setAttribute("src", marker.dataset.src);
      }
    });
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
        syncOutside(region);
        region.classList.remove("stale");
        var line = statusLine(region);
        // The server's time, in the portal's one format with its zone, not the browser's.
        var stamp = region.querySelector("[data-live-generated]");
        if (line) line.textContent = "Updated " + (stamp ? stamp.textContent : "just now") + ".";
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
