// Small behaviours shared by every page; no inline scripts, so a strict CSP holds.
(function () {
  "use strict";
  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.matches && target.matches("select[data-autosubmit]")) {
      target.form.submit();
    }
  });
})();
