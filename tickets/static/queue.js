// The agent queue: keyboard shortcuts (j/k move, x tick, o or Enter open, / search, ? help) and "tick all on
// this page" without reloading. Without JavaScript the queue works the same (the link reloads with all ticked).
// Loaded from a file (Content-Security-Policy: script-src 'self'); the help dialog is the DSFR modal of the page.
(function () {
  "use strict";
  var rows = Array.prototype.slice.call(document.querySelectorAll(".guichet-queue tbody tr[data-href]"));
  var current = -1;
  var helpButton = document.getElementById("raccourcis-bouton");
  if (helpButton) { helpButton.hidden = false; }

  var all = document.getElementById("tout-cocher");
  if (all) {
    all.addEventListener("click", function (event) {
      event.preventDefault();
      var boxes = document.querySelectorAll("input[name='demandes']");
      var tick = Array.prototype.some.call(boxes, function (box) { return !box.checked; });
      boxes.forEach(function (box) { box.checked = tick; });
    });
  }

  function typing(target) {
    if (!target) { return false; }
    var tag = target.tagName;
    return target.isContentEditable || tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT";
  }

  function move(step) {
    if (!rows.length) { return; }
    if (current >= 0) { rows[current].classList.remove("guichet-current"); }
    current = Math.max(0, Math.min(rows.length - 1, current + step));
    var row = rows[current];
    row.classList.add("guichet-current");
    var link = row.querySelector(".guichet-ref a");
    if (link) { link.focus(); }
    row.scrollIntoView({ block: "nearest" });
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) { return; }
    if (document.querySelector("dialog.fr-modal[open]")) { return; }
    var key = event.key;
    if (key === "j") { move(1); }
    else if (key === "k") { move(current < 0 ? 1 : -1); }
    else if (key === "x" && current >= 0) {
      var box = rows[current].querySelector("input[name='demandes']");
      if (box) { box.checked = !box.checked; }
    } else if ((key === "o" || key === "Enter") && current >= 0) {
      if (key === "Enter" && event.target && event.target.tagName === "A") { return; }  // the link opens itself
      window.location.href = rows[current].dataset.href;
    } else if (key === "/") {
      var search = document.getElementById("q");
      if (!search) { return; }
      search.focus();
      search.select();
    } else if (key === "?") {
      if (helpButton) { helpButton.click(); }
    } else { return; }
    event.preventDefault();
  });
})();
