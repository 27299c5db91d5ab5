// The review page's player and keyboard island (UI.md): seek buttons, ±5 s, speed, loop the hit,
// j/k/Space/←/→/Alt+U/Alt+O/? shortcuts. Single keys are off while typing and can be switched off.
(function () {
  "use strict";
  var player = document.getElementById("player");
  var seeks = Array.prototype.slice.call(document.querySelectorAll("button.seek"));
  var current = -1;
  var loop = document.getElementById("loop");
  var help = document.getElementById("help");
  var shortcuts = document.getElementById("shortcuts");
  if (shortcuts) {
    shortcuts.checked = localStorage.getItem("qc.shortcuts") !== "off";
    shortcuts.addEventListener("change", function () {
      localStorage.setItem("qc.shortcuts", shortcuts.checked ? "on" : "off");
    });
  }
  function seekTo(i) {
    if (!seeks.length) return;
    current = (i + seeks.length) % seeks.length;
    var b = seeks[current];
    b.focus();
    if (player && !b.disabled) {
      player.currentTime = parseFloat(b.dataset.seek);
      var p = player.play();
      if (p && p.catch) p.catch(function () {});
    }
  }
  seeks.forEach(function (b, i) {
    b.addEventListener("click", function () { seekTo(i); });
  });
  document.querySelectorAll("button[data-skip]").forEach(function (b) {
    b.addEventListener("click", function () { skip(parseFloat(b.dataset.skip)); });
  });
  function skip(s) {
    if (player) player.currentTime = Math.max(0, player.currentTime + s);
  }
  var speed = document.getElementById("speed");
  if (speed && player) speed.addEventListener("change", function () { player.playbackRate = parseFloat(speed.value); });
  if (player) player.addEventListener("timeupdate", function () {
    if (!loop || !loop.checked || current < 0) return;
    var b = seeks[current];
    if (player.currentTime >= parseFloat(b.dataset.end)) player.currentTime = parseFloat(b.dataset.seek);
  });
  var helpOpen = document.getElementById("help-open");
  if (helpOpen && help) helpOpen.addEventListener("click", function () { help.showModal(); });
  function choose(id) {
    var el = document.getElementById(id);
    if (el) { el.checked = true; el.focus(); }
  }
  document.addEventListener("keydown", function (ev) {
    if (ev.altKey && !ev.ctrlKey && !ev.metaKey) {
      var k = ev.key.toLowerCase();
      if (k === "u" || ev.code === "KeyU") { choose("choice-uphold"); ev.preventDefault(); }
      else if (k === "o" || ev.code === "KeyO") { choose("choice-overturn"); ev.preventDefault(); }
      return;
    }
    if (ev.ctrlKey || ev.metaKey) return;
    var t = ev.target;
    var tag = t && t.tagName;
    if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (t && t.isContentEditable)) return;
    if (shortcuts && !shortcuts.checked) return;
    if (help && help.open) return;
    if (ev.key === "j") { seekTo(current + 1); ev.preventDefault(); }
    else if (ev.key === "k") { seekTo(current - 1); ev.preventDefault(); }
    else if (ev.key === "?") { if (help) help.showModal(); ev.preventDefault(); }
    else if (!player) return;
    else if (ev.key === " " && tag !== "BUTTON" && tag !== "A") {
      if (player.paused) { var p = player.play(); if (p && p.catch) p.catch(function () {}); } else player.pause();
      ev.preventDefault();
    }
    else if (ev.key === "ArrowLeft") { skip(-5); ev.preventDefault(); }
    else if (ev.key === "ArrowRight") { skip(5); ev.preventDefault(); }
  });
})();
