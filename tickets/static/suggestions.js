// Suggest published articles while the requester types the subject or message (debounced, no form change).
// Loaded from a file (Content-Security-Policy: script-src 'self'); its texts come from data-* attributes.
(function () {
  "use strict";
  var box = document.getElementById("suggestions-articles");
  var list = document.getElementById("suggestions-liste");
  var live = document.getElementById("suggestions-annonce");
  var subject = document.getElementById("subject");
  var message = document.getElementById("message");
  if (!box || !list || !window.fetch || (!subject && !message)) { return; }
  var timer = null, last = "", counter = 0;
  var announce = box.dataset.announce || "";
  var opens = box.dataset.opens || "";
  function text() {
    return ((subject ? subject.value : "") + " " + (message ? message.value : "")).trim();
  }
  function render(items) {
    list.textContent = "";
    items.forEach(function (item) {
      var li = document.createElement("li");
      var a = document.createElement("a");
      a.href = item.url;
      a.target = "_blank";
      a.rel = "noopener";
      a.className = "fr-link";
      a.textContent = item.title;
      a.title = item.title + " " + opens;
      li.appendChild(a);
      if (item.excerpt) {
        var p = document.createElement("p");
        p.className = "fr-text--sm fr-mb-1w";
        p.textContent = item.excerpt;
        li.appendChild(p);
      }
      list.appendChild(li);
    });
    box.hidden = items.length === 0;
    if (live) { live.textContent = items.length ? announce.replace("__N__", items.length) : ""; }
  }
  function lookup() {
    var q = text();
    if (q === last) { return; }
    last = q;
    if (q.length < 8) { render([]); return; }
    var mine = ++counter;
    fetch(box.dataset.url + "?q=" + encodeURIComponent(q.slice(0, 500)), {headers: {"Accept": "application/json"}})
      .then(function (r) { return r.ok ? r.json() : {suggestions: []}; })
      .then(function (data) { if (mine === counter) { render(data.suggestions || []); } })
      .catch(function () {});
  }
  function schedule() { clearTimeout(timer); timer = setTimeout(lookup, 400); }
  [subject, message].forEach(function (el) { if (el) { el.addEventListener("input", schedule); } });
})();
