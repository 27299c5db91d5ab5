// The rule editor's island: 发布 opens the diff dialog; editing the draft after its backtest
// disables 发布 until a new backtest (the server refuses a stale draft anyway); the YAML
// textarea's aria-invalid follows the error list.
(function () {
  "use strict";
  var yaml = document.getElementById("rule-yaml");
  var changed = document.getElementById("draft-changed");
  var backtested = yaml ? yaml.value : null;

  document.addEventListener("click", function (ev) {
    var t = ev.target;
    if (t.id === "publish" && !t.disabled) {
      var dlg = document.getElementById("publish-dialog");
      if (dlg) { dlg.showModal(); }
    } else if (t.classList && t.classList.contains("close-dialog")) {
      t.closest("dialog").close();
    }
  });
  if (yaml) {
    yaml.addEventListener("input", function () {
      var pub = document.getElementById("publish");
      var stale = yaml.value !== backtested;
      if (pub && pub.dataset.hash) { pub.disabled = stale; }
      if (changed) { changed.hidden = !stale || !(pub && pub.dataset.hash); }
    });
  }
  document.body.addEventListener("htmx:afterSwap", function (ev) {
    var target = ev.detail.target;
    if (target.id === "yaml-errors" && yaml) {
      if (target.querySelector("#yaml-error-list")) { yaml.setAttribute("aria-invalid", "true"); }
      else { yaml.removeAttribute("aria-invalid"); }
    }
    if (target.id === "backtest" && yaml) {
      var run = target.querySelector("[data-status]");
      if (run && run.dataset.status === "running" && ev.detail.requestConfig &&
          ev.detail.requestConfig.verb === "post") { backtested = yaml.value; }
      if (changed) { changed.hidden = true; }
    }
  });
})();
