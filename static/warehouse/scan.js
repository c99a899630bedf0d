/* Scan-first tablet screens: keep the scan input focused, give every scan a client id (so a retried POST
   after a lost connection is answered once by the server), retry on network errors with the same id, and
   beep + flash on the server's verdict. No framework: HTMX events only. */
(function () {
  "use strict";
  var audio = null;

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return "s-" + Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 10);
  }

  function beep(ok) {
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      var o = audio.createOscillator(), g = audio.createGain();
      o.type = ok ? "sine" : "square";
      o.frequency.value = ok ? 880 : 220;
      g.gain.value = 0.08;
      o.connect(g); g.connect(audio.destination);
      o.start(); o.stop(audio.currentTime + (ok ? 0.08 : 0.35));
    } catch (e) { /* no audio: the colour still tells */ }
  }

  function focusScan() {
    var el = document.querySelector(".scan-input");
    var active = document.activeElement;
    if (!el) return;
    if (active && active !== document.body && active.matches("input, select, textarea") && !active.classList.contains("scan-input")) return;
    el.focus();
  }

  document.addEventListener("htmx:configRequest", function (evt) {
    var form = evt.detail.elt.closest ? evt.detail.elt.closest("form[data-scan-form]") : null;
    if (!form) return;
    var p = evt.detail.parameters;
    if (!p.scan_id) {
      var id = form.dataset.pendingScan || uuid();
      form.dataset.pendingScan = id;
      p.scan_id = id;
    }
    if (evt.detail.elt.name === "action") p.action = evt.detail.elt.value;
  });

  document.addEventListener("htmx:sendError", function (evt) {
    // Lost connection: send the same scan again (same id) until the server answers.
    var form = evt.detail.elt.closest ? evt.detail.elt.closest("form[data-scan-form]") : null;
    if (!form) return;
    var status = document.getElementById("net-status");
    if (status) status.textContent = "Offline — retrying your scan…";
    setTimeout(function () { htmx.trigger(evt.detail.elt, evt.detail.elt.tagName === "FORM" ? "submit" : "click"); }, 1500);
  });

  document.addEventListener("htmx:afterRequest", function (evt) {
    if (!evt.detail.successful && !evt.detail.xhr.status) return;
    var form = evt.detail.elt.closest ? evt.detail.elt.closest("form[data-scan-form]") : null;
    if (form) delete form.dataset.pendingScan;
    var status = document.getElementById("net-status");
    if (status) status.textContent = "";
  });

  document.addEventListener("htmx:afterSwap", function () {
    var verdict = document.querySelector("[data-scan-result]");
    if (verdict) {
      var ok = verdict.getAttribute("data-scan-result") === "ok";
      beep(ok);
      document.body.classList.remove("scan-ok", "scan-bad");
      void document.body.offsetWidth;
      document.body.classList.add(ok ? "scan-ok" : "scan-bad");
    }
    focusScan();
  });

  document.addEventListener("DOMContentLoaded", focusScan);
  document.addEventListener("click", function () { setTimeout(focusScan, 0); });
  setInterval(focusScan, 1500);
})();
