// Ticket page: tell the server this agent is here (on load, every minute while shown, when a reply is started)
// and show who else is (tickets/presence). Without JavaScript nothing is recorded and the page works the same.
(function () {
  "use strict";
  var panel = document.getElementById("presence");
  if (!panel || !window.fetch) { return; }
  var region = document.getElementById("presence-autres");
  var replying = false;
  function ping() {
    var body = new FormData();
    body.append("csrf_token", panel.dataset.csrf);
    if (replying) { body.append("replying", "1"); }
    fetch(panel.dataset.url, {method: "POST", body: body, credentials: "same-origin"})
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (data && data.key !== panel.dataset.key) { panel.dataset.key = data.key; region.innerHTML = data.html; }
      })
      .catch(function () { /* offline: the next ping tries again */ });
  }
  ping();
  window.setInterval(function () { if (!document.hidden) { ping(); } }, 60000);
  var reply = document.querySelector("#formulaire-reponse textarea");
  if (reply) {
    reply.addEventListener("focus", function () { if (!replying) { replying = true; ping(); } });
  }
})();
