/* Scan-first tablet screens.

   The scan <input> lives outside the panel the server swaps, so it is never replaced while the scanner
   types. Enter queues the scan (with a client scan id made at that moment) and clears the input at once;
   the queue is sent one scan at a time, in order, and each answer replaces only the panel
   (``data-scan-target``). A scan typed while a request is in flight waits in the queue; a lost connection
   retries the same scan (same id, so the server answers it once) until the server answers. The queue is
   kept in sessionStorage, so a reload does not lose it either. No framework: fetch + HTMX for the rest. */
(function () {
  "use strict";
  var audio = null;
  var busy = false;

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

  function scanForm() { return document.querySelector("form[data-scan-queue]"); }

  function queueKey(form) { return "scanq:" + form.getAttribute("action"); }

  function load(form) {
    try { return JSON.parse(sessionStorage.getItem(queueKey(form)) || "[]"); } catch (e) { return []; }
  }

  function save(form, q) {
    try { sessionStorage.setItem(queueKey(form), JSON.stringify(q)); } catch (e) { /* private mode */ }
    form.dataset.pending = String(q.length);
    var counter = document.getElementById("scan-queue");
    if (counter) counter.textContent = q.length > 1 ? (q.length - 1) + " more scan(s) waiting…" : "";
  }

  function csrf() {
    try { return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || ""; } catch (e) { return ""; }
  }

  function focusScan() {
    var panelFocus = document.querySelector("[data-scan-target] [data-focus]");
    var active = document.activeElement;
    if (active && active !== document.body && active.matches("input, select, textarea") && !active.classList.contains("scan-input")) return;
    if (panelFocus) { if (active !== panelFocus) panelFocus.focus(); return; }
    var el = document.querySelector(".scan-input");
    if (el && active !== el) el.focus();
  }

  function verdict(root) {
    var v = root.querySelector("[data-scan-result]");
    if (!v) return;
    var ok = v.getAttribute("data-scan-result") === "ok";
    beep(ok);
    document.body.classList.remove("scan-ok", "scan-bad");
    void document.body.offsetWidth;
    document.body.classList.add(ok ? "scan-ok" : "scan-bad");
  }

  function swap(form, html) {
    var target = document.querySelector(form.getAttribute("data-scan-target"));
    var tpl = document.createElement("template");
    tpl.innerHTML = html.trim();
    var el = tpl.content.firstElementChild;
    if (!target || !el) return;
    target.replaceWith(el);
    if (window.htmx) htmx.process(el);
    verdict(el);
    form.hidden = el.hasAttribute("data-scan-off");
  }

  function pump() {
    var form = scanForm();
    if (!form || busy) return;
    var q = load(form);
    if (!q.length) return;
    busy = true;
    var item = q[0];
    var body = new URLSearchParams();
    Object.keys(item).forEach(function (k) { body.append(k, item[k]); });
    var status = document.getElementById("net-status");
    fetch(form.getAttribute("action"), {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrf(), "HX-Request": "true" },
    }).then(function (resp) {
      if (resp.status >= 500 || resp.status === 0) throw new Error("server " + resp.status);
      return resp.text().then(function (html) {
        var rest = load(form).filter(function (x) { return x.scan_id !== item.scan_id; });
        save(form, rest);
        if (status) status.textContent = "";
        if (resp.ok) swap(form, html);
        else if (status) status.textContent = "Refused (" + resp.status + "): reload the page.";
        busy = false;
        focusScan();
        pump();
      });
    }).catch(function () {
      // Lost connection (or the server hiccuped): the same scan, same id, again in a moment.
      if (status) status.textContent = "Offline — " + load(form).length + " scan(s) kept, retrying…";
      busy = false;
      setTimeout(pump, 1500);
    });
  }

  function enqueue(form, fields) {
    fields.scan_id = uuid();
    var q = load(form);
    q.push(fields);
    save(form, q);
    pump();
  }

  document.addEventListener("submit", function (evt) {
    var form = evt.target;
    if (!form.matches || !form.matches("form[data-scan-queue]")) return;
    evt.preventDefault();
    var input = form.querySelector(".scan-input");
    var code = (input.value || "").trim();
    input.value = "";
    if (!code) return;
    var fields = { code: code };
    var qty = document.querySelector("[data-scan-target] .qty-input");
    if (qty && qty.value.trim()) { fields.quantity = qty.value.trim(); qty.value = ""; }
    enqueue(form, fields);
    input.focus();
  });

  document.addEventListener("click", function (evt) {
    var btn = evt.target.closest ? evt.target.closest("[data-scan-action]") : null;
    var form = scanForm();
    if (btn && form) {
      evt.preventDefault();
      var ask = btn.getAttribute("data-confirm");
      if (!ask || window.confirm(ask)) {
        var fields = { action: btn.getAttribute("data-scan-action") };
        Array.prototype.forEach.call(btn.attributes, function (a) {
          if (a.name.indexOf("data-field-") === 0) fields[a.name.slice(11)] = a.value;
        });
        var f = btn.hasAttribute("data-gather") ? btn.closest("form") : null;
        if (f) {
          var failed = [];
          f.querySelectorAll("input[name=failed]:checked").forEach(function (c) { failed.push(c.value); });
          fields.failed = failed.join("\n");
          var why = f.querySelector("[name=reason]");
          if (why) fields.reason = why.value;
        }
        enqueue(form, fields);
      }
    }
    setTimeout(focusScan, 0);
  });

  document.addEventListener("htmx:afterSwap", function (evt) { verdict(evt.detail.target || document); focusScan(); });
  document.addEventListener("DOMContentLoaded", function () {
    var form = scanForm();
    if (form) {
      var panel = document.querySelector(form.getAttribute("data-scan-target"));
      form.hidden = !!(panel && panel.hasAttribute("data-scan-off"));
      save(form, load(form));
      pump(); // scans kept from before a reload go out first
    }
    focusScan();
  });
  window.addEventListener("online", pump);
  setInterval(focusScan, 1500);
})();
