// Small behaviours without inline scripts (the Content-Security-Policy allows scripts from 'self' only).
document.addEventListener("change", function (event) {
  var target = event.target;
  if (target.matches && target.matches("select[data-autosubmit]") && target.form) {
    target.form.submit();
  }
});
