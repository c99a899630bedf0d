/* The receiving screen: scans are queued on the tablet and sent in batches.

   Enter in the scan input queues the scan (with a client scan id made at that moment: the server receives
   each id once) and clears the input at once, so the scanner can fire again. When no request is in flight the
   whole queue goes out in ONE request (JSON {"scans": [...]}) which the server receives in one transaction;
   scans typed while it is in flight wait and go out together in the next one. A single scan therefore lands
   at once, and a scanner firing fast is batched naturally. The answer (an HTML fragment) replaces only the
   panel under the form. The queue lives in sessionStorage, so a reload or a lost connection loses nothing:
   the same scans (same ids) are sent again until the server answers. A damaged unit with a photo is posted
   with the plain form (multipart) instead. */
(function () {
  "use strict";
  var busy = false;

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return "s-" + Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 10);
  }
  function form() { return document.querySelector("form[data-receive-batch]"); }
  function key(f) { return "rcvq:" + f.getAttribute("data-receive-batch"); }
  function load(f) {
    try { return JSON.parse(sessionStorage.getItem(key(f)) || "[]"); } catch (e) { return []; }
  }
  function save(f, q) {
    try { sessionStorage.setItem(key(f), JSON.stringify(q)); } catch (e) { /* private mode */ }
    f.dataset.pending = String(q.length);
    var el = document.getElementById("receive-queue");
    if (el) el.textContent = q.length ? q.length + " scan(s) sending…" : "";
  }
  function csrf(f) {
    var input = f.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }
  function beep(ok) {
    try {
      var a = new (window.AudioContext || window.webkitAudioContext)();
      var o = a.createOscillator(), g = a.createGain();
      o.type = ok ? "sine" : "square"; o.frequency.value = ok ? 880 : 220; g.gain.value = 0.08;
      o.connect(g); g.connect(a.destination); o.start(); o.stop(a.currentTime + (ok ? 0.08 : 0.35));
    } catch (e) { /* no audio */ }
  }

  function swap(html) {
    var target = document.getElementById("receive-panel");
    var tpl = document.createElement("template");
    tpl.innerHTML = html.trim();
    var el = tpl.content.querySelector("#receive-panel");
    if (!target || !el) return;
    target.replaceWith(el);
    if (window.htmx) htmx.process(el);
    var bad = el.querySelector(".scan-msg.bad");
    if (el.querySelector(".scan-msg")) {
      beep(!bad);
      document.body.classList.remove("scan-ok", "scan-bad");
      void document.body.offsetWidth;
      document.body.classList.add(bad ? "scan-bad" : "scan-ok");
    }
  }

  function pump() {
    var f = form();
    if (!f || busy) return;
    var batch = load(f);
    if (!batch.length) return;
    busy = true;
    var ids = batch.map(function (x) { return x.client_scan_id; });
    fetch(f.getAttribute("data-receive-batch"), {
      method: "POST",
      body: JSON.stringify({ scans: batch }),
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf(f), "HX-Request": "true" },
    }).then(function (resp) {
      if (resp.status >= 500) throw new Error("server " + resp.status);
      return resp.text().then(function (html) {
        save(f, load(f).filter(function (x) { return ids.indexOf(x.client_scan_id) < 0; }));
        if (resp.ok) swap(html);
        else {
          var el = document.getElementById("receive-queue");
          if (el) el.textContent = "Refused (" + resp.status + "): reload the page.";
        }
        busy = false;
        pump();
      });
    }).catch(function () {
      var el = document.getElementById("receive-queue");
      if (el) el.textContent = "Offline — " + load(f).length + " scan(s) kept, retrying…";
      busy = false;
      setTimeout(pump, 1500);
    });
  }

  document.addEventListener("submit", function (evt) {
    var f = evt.target;
    if (!f.matches || !f.matches("form[data-receive-batch]")) return;
    var damaged = f.querySelector("input[name=damaged]");
    var photo = f.querySelector("input[name=photo]");
    if ((damaged && damaged.checked) || (photo && photo.files && photo.files.length)) return; // plain post
    evt.preventDefault();
    var input = f.querySelector(".scan-input");
    var code = (input.value || "").trim();
    if (!code) return;
    var item = { client_scan_id: uuid(), scan: code };
    ["quantity", "lot", "expires_on"].forEach(function (name) {
      var el = f.querySelector("[name=" + name + "]");
      if (el && el.value.trim()) item[name] = el.value.trim();
    });
    input.value = "";
    var qty = f.querySelector("[name=quantity]");
    if (qty) qty.value = "1";
    ["lot", "expires_on"].forEach(function (name) {
      var el = f.querySelector("[name=" + name + "]");
      if (el) el.value = "";
    });
    var q = load(f);
    q.push(item);
    save(f, q);
    input.focus();
    pump();
  });

  document.addEventListener("DOMContentLoaded", function () {
    var f = form();
    if (!f) return;
    save(f, load(f));
    pump(); // scans kept from before a reload go out first
  });
  window.addEventListener("online", pump);
})();
