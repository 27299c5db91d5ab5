// The customer page's 移除 confirmation: a <dialog> asking for the 移除理由 (UI.md).
(function () {
  "use strict";
  document.querySelectorAll("button.open-remove").forEach(function (b) {
    b.addEventListener("click", function () {
      var d = document.getElementById(b.dataset.dialog);
      if (d) d.showModal();
    });
  });
  document.querySelectorAll("dialog button.close-dialog").forEach(function (b) {
    b.addEventListener("click", function () { b.closest("dialog").close(); });
  });
})();
