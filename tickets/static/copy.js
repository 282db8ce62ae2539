// "Copier le lien" on the confirmation page: shows the button, copies the field it names, says so (role=status).
// Without JavaScript the button stays hidden and the read-only field can be selected and copied by hand.
// Loaded from a file (Content-Security-Policy: script-src 'self'); its texts come from data-* attributes.
(function () {
  "use strict";
  var button = document.getElementById("copier-lien");
  var status = document.getElementById("copier-lien-etat");
  if (!button || !status) { return; }
  var field = document.getElementById(button.getAttribute("data-copy"));
  if (!field) { return; }
  button.hidden = false;
  function done(ok) { status.textContent = button.getAttribute(ok ? "data-copied" : "data-failed"); }
  button.addEventListener("click", function () {
    field.select();
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(function () { done(true); }, function () { done(false); });
    } else {
      try { done(document.execCommand("copy")); } catch (error) { done(false); }
    }
  });
})();
