// /conversations/{id}?m=<message_id>: that message scrolled into view and focused (UI.md).
(function () {
  "use strict";
  var id = new URLSearchParams(location.search).get("m");
  if (!id) return;
  var el = document.getElementById("m-" + id);
  if (el) { el.scrollIntoView({block: "center"}); el.focus(); }
})();
