// Small behaviours without inline scripts (the Content-Security-Policy allows scripts from 'self' only).
document.addEventListener("change", function (event) {
  var target = event.target;
  if (target.matches && target.matches("select[data-autosubmit]") && target.form) {
    target.form.submit();
  }
});

// A copy button (hidden until this script shows it): copies the value of the element its
// data-copy selector names, and says so in the status next to it.
document.addEventListener("click", function (event) {
  var button = event.target.closest ? event.target.closest("button[data-copy]") : null;
  if (!button) { return; }
  var source = document.querySelector(button.getAttribute("data-copy"));
  var status = button.parentNode.querySelector(".copy-status");
  if (!source) { return; }
  var say = function (ok) { if (status) { status.textContent = button.getAttribute(ok ? "data-copied" : "data-copy-failed"); } };
  var text = source.value !== undefined ? source.value : source.textContent;
  if (navigator.clipboard && navigator.clipboard.writeText) {
    navigator.clipboard.writeText(text).then(function () { say(true); }, function () {
      source.select && source.select(); say(document.execCommand && document.execCommand("copy"));
    });
  } else {
    source.select && source.select();
    say(document.execCommand && document.execCommand("copy"));
  }
});

document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("button[data-copy][hidden]").forEach(function (b) { b.hidden = false; });
  // After a refusal, the error summary takes the focus, so keyboard and screen reader users
  // hear what went wrong first; its links move to the fields.
  var summary = document.getElementById("error-summary") || document.querySelector("[data-focus-on-load]");
  if (summary) { summary.focus(); }
});
