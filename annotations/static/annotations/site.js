// Small behaviours shared by every page; no inline scripts, so a strict CSP holds.
(function () {
  "use strict";
  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.matches && target.matches("select[data-autosubmit]")) {
      // Back to this very page: htmx may have changed its address (filters, paging)
      // since the form was rendered.
      var next = target.form.querySelector('input[name="next"]');
      if (next) {
        next.value = location.pathname + location.search;
      }
      target.form.submit();
    }
  });
})();
