// The agent's ticket page: insert a saved reply or a suggested article's answer into the reply box.
// Without JavaScript both still work: the saved reply is inserted by the server, the answer stays readable.
// Loaded from a file (Content-Security-Policy: script-src 'self'); its texts come from data-* attributes.
(function () {
  "use strict";
  var area = document.getElementById("body");
  if (!area) { return; }
  function append(text) {
    area.value = (area.value ? area.value.replace(/\s+$/, "") + "\n\n" : "") + text;
    area.focus();
  }
  // Saved replies: their bodies are a JSON data block (not a script), the button posts without JavaScript.
  var button = document.getElementById("inserer-reponse-type");
  var select = document.getElementById("canned");
  var bodies = document.getElementById("reponses-types");
  if (button && select && bodies) {
    var saved = JSON.parse(bodies.textContent);
    button.addEventListener("click", function (event) {
      var text = saved[select.value];
      if (!text) { return; }
      event.preventDefault();
      append(text);
    });
  }
  // Suggested articles of the triage panel: the "Insérer" buttons are shown only when they can work.
  var status = document.getElementById("expert-insert-status");
  document.querySelectorAll(".guichet-insert-answer").forEach(function (answer) {
    answer.hidden = false;
    answer.addEventListener("click", function () {
      append(answer.dataset.answer);
      if (status) { status.textContent = status.dataset.inserted || ""; }
    });
  });
})();
