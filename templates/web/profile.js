// Progressive enhancement of the profile form (/subscribe, preferences): a category search,
// the browser's timezone, and a live preview fetched as the reader types. The form works the
// same without this file (the Preview button posts it).
(function () {
  "use strict";
  var form = document.getElementById("profile-form");
  if (!form) return;
  var search = document.getElementById("category-search");
  if (search) {
    search.classList.remove("js-only");
    search.style.display = "block";
    search.addEventListener("input", function () {
      var needle = search.value.trim().toLowerCase();
      document.querySelectorAll("#category-list label").forEach(function (label) {
        var hit = !needle || label.textContent.toLowerCase().indexOf(needle) !== -1;
        label.style.display = hit ? "" : "none";
      });
    });
  }
  var zone = document.getElementById("timezone");
  if (zone && form.dataset.guessTimezone !== "no" && (!zone.value || zone.value === "UTC")) {
    try {
      var guessed = Intl.DateTimeFormat().resolvedOptions().timeZone;
      if (guessed) zone.value = guessed;
    } catch (e) { /* keep UTC */ }
  }
  var preview = document.getElementById("preview");
  if (!preview || !window.fetch || !window.DOMParser) return;
  var timer = null;
  function refresh() {
    var data = new FormData(form);
    data.set("action", "preview");
    fetch(form.getAttribute("action"), { method: "POST", body: data, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (!html) return;
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("preview");
        if (fresh) preview.innerHTML = fresh.innerHTML;
      })
      .catch(function () { /* the Preview button still works */ });
  }
  form.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(refresh, 500);
  });
})();
