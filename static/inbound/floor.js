// Floor screens: keep the scan input focused (a scanner types into whatever has focus), unless the
// associate is deliberately using another field. Enter in the scan input submits its form.
(function () {
  function scanInput() { return document.querySelector(".scan-input"); }
  function refocus() {
    var el = scanInput();
    var active = document.activeElement;
    if (!el) return;
    if (active && active !== document.body && active !== el && active.matches("input, select, textarea, button")) return;
    el.focus();
  }
  document.addEventListener("DOMContentLoaded", function () {
    var el = scanInput();
    if (el) { el.focus(); el.select && el.select(); }
    document.addEventListener("focusout", function () { setTimeout(refocus, 50); });
    document.addEventListener("click", function () { setTimeout(refocus, 50); });
  });
})();
