// Move the keyboard focus to a form's error summary, so a screen reader reads what went wrong.
document.addEventListener("DOMContentLoaded", function () {
  var summary = document.querySelector("[data-focus-on-load]");
  if (summary) {
    summary.focus();
  }
});
