// The labeling page, driven from the keyboard. One rubric question is "active": digits
// rate it, letters pick its options, Enter moves on; Ctrl/Cmd+Enter submits and opens
// the next item, "s" skips, "?" lists the shortcuts. While the page is in use, htmx
// renews the lease (see #lease-status); this file decides what those replies do.
(function () {
  "use strict";

  var form = document.getElementById("label-form");
  if (!form) {
    return;
  }
  var SKIP_KEY = "s";
  // Without any input for this long the heartbeat stops, so an abandoned tab frees the item.
  var IDLE_LIMIT_MS = 20 * 60 * 1000;
  // Time spent counts while the page is visible; a pause without input counts for at
  // most this long (a reviewer reading the answer, not one gone to lunch).
  var IDLE_PAUSE_MS = 2 * 60 * 1000;
  var spentMs = 0;
  var countingSince = Date.now();
  var lastActivityAt = Date.now();
  var changed = false;
  var questions = Array.prototype.slice.call(form.querySelectorAll("[data-question]"));
  var timeField = form.querySelector("[data-time-spent]");
  var skipForm = document.getElementById("skip-form");
  var overlay = document.getElementById("shortcuts");
  var focusBeforeOverlay = null;
  var active = 0;
  var submitting = false;

  function isTypingField(element) {
    if (!element || !element.tagName) {
      return false;
    }
    if (element.isContentEditable) {
      return true;
    }
    var tag = element.tagName;
    if (tag === "TEXTAREA" || tag === "SELECT") {
      return true;
    }
    if (tag === "INPUT") {
      return ["radio", "checkbox", "button", "submit", "reset", "hidden"].indexOf(element.type) === -1;
    }
    return false;
  }

  function isTextQuestion(question) {
    return !!question.querySelector("textarea");
  }

  function setActive(index, moveFocus) {
    if (!questions.length || index < 0 || index >= questions.length) {
      return;
    }
    questions[active].classList.remove("is-active");
    active = index;
    var question = questions[active];
    question.classList.add("is-active");
    if (moveFocus) {
      // Focus stays off text boxes so that the next digit is not typed into one.
      var target = isTextQuestion(question)
        ? question
        : question.querySelector("input:checked") || question.querySelector("input");
      (target || question).focus({ preventScroll: true });
      question.scrollIntoView({ block: "nearest" });
    }
  }

  function choose(input) {
    input.checked = input.type === "checkbox" ? !input.checked : true;
    input.dispatchEvent(new Event("change", { bubbles: true }));
  }

  function pick(hint, types) {
    var question = questions[active];
    if (!question || types.indexOf(question.dataset.type) === -1) {
      return false;
    }
    var input = question.querySelector('input[data-hint="' + hint + '"]');
    if (!input) {
      return false;
    }
    choose(input);
    if (input.type === "checkbox") {
      input.focus({ preventScroll: true });
    } else {
      setActive(active + 1, true);
    }
    return true;
  }

  // The letter of a key press: with a Korean (or other) input method on, the key that
  // says "b" reports "ㅠ", so the physical key decides.
  function letterOf(event) {
    if (/^[a-zA-Z]$/.test(event.key)) {
      return event.key.toLowerCase();
    }
    var physical = /^Key([A-Z])$/.exec(event.code || "");
    if (physical && (event.key === "Process" || /[^\x00-\x7F]/.test(event.key))) {
      return physical[1].toLowerCase();
    }
    return null;
  }

  function countTime() {
    var now = Date.now();
    if (countingSince !== null) {
      spentMs += Math.min(now - countingSince, IDLE_PAUSE_MS);
    }
    countingSince = document.hidden ? null : now;
  }

  function skip() {
    if (!skipForm || submitting) {
      return;
    }
    if (changed && !window.confirm(skipForm.dataset.confirm)) {
      return;
    }
    submitting = true;
    skipForm.requestSubmit ? skipForm.requestSubmit() : skipForm.submit();
  }

  function submitLabels() {
    if (submitting) {
      return;
    }
    if (typeof form.requestSubmit === "function") {
      form.requestSubmit();
    } else {
      form.submit();
    }
  }

  function toggleOverlay(show) {
    if (!overlay) {
      return;
    }
    if (show) {
      focusBeforeOverlay = document.activeElement;
      overlay.hidden = false;
      var close = overlay.querySelector("button");
      if (close) {
        close.focus();
      }
    } else {
      overlay.hidden = true;
      if (focusBeforeOverlay && focusBeforeOverlay.focus) {
        focusBeforeOverlay.focus({ preventScroll: true });
      }
    }
  }

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.isComposing) {
      return;
    }
    var key = event.key;
    var target = event.target;
    if (key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      submitLabels();
      return;
    }
    if (overlay && !overlay.hidden) {
      if (key === "Escape" || key === "?") {
        event.preventDefault();
        toggleOverlay(false);
      } else if (key === "Tab") {
        // A modal dialog: focus stays in it until it is closed.
        event.preventDefault();
        overlay.querySelector("button").focus();
      }
      return;
    }
    var current = questions[active];
    if (
      current && target === current && isTextQuestion(current) &&
      key.length === 1 && key !== "?" && !event.ctrlKey && !event.metaKey && !event.altKey
    ) {
      // A text question's box is one keystroke away: what is typed goes into it, never
      // to a shortcut (a note starting with "s" must not skip the item).
      var box = current.querySelector("textarea");
      box.focus({ preventScroll: true });
      box.setSelectionRange(box.value.length, box.value.length);
      return;
    }
    if (isTypingField(target)) {
      if (key === "Escape" && target.tagName === "TEXTAREA") {
        var question = target.closest("[data-question]");
        if (question) {
          question.focus({ preventScroll: true });
        }
      }
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey) {
      return;
    }
    var letter = letterOf(event);
    if (key === "?") {
      event.preventDefault();
      toggleOverlay(true);
    } else if (letter === SKIP_KEY) {
      if (skipForm) {
        event.preventDefault();
        skip();
      }
    } else if (/^[0-9]$/.test(key)) {
      if (pick(key, ["rating"])) {
        event.preventDefault();
      }
    } else if (letter) {
      if (pick(letter, ["single_choice", "multi_choice", "boolean", "pairwise"])) {
        event.preventDefault();
      }
    } else if (key === "Enter" && form.contains(target) && !target.closest("button, a, summary")) {
      // Enter would submit the form from a radio button; here it moves on instead.
      event.preventDefault();
      if (current && isTextQuestion(current) && target === current) {
        current.querySelector("textarea").focus();
      } else {
        setActive(active + 1, true);
      }
    } else if (key === "Enter" && (target === document.body || target === document.documentElement)) {
      event.preventDefault();
      setActive(active, true);
    }
  });

  form.addEventListener("focusin", function (event) {
    var question = event.target.closest("[data-question]");
    if (question) {
      setActive(questions.indexOf(question), false);
    }
  });

  ["change", "input"].forEach(function (name) {
    form.addEventListener(name, function () {
      changed = true;
    });
  });

  form.addEventListener("submit", function () {
    // After a refused submission the page is new, but the time already spent counts.
    var earlier = parseInt(timeField.dataset.earlier || "0", 10) || 0;
    countTime();
    timeField.value = String(earlier + spentMs);
    submitting = true;
  });

  document.addEventListener("visibilitychange", countTime);

  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-shortcuts-toggle]")) {
      toggleOverlay(overlay.hidden);
    } else if (overlay && event.target === overlay) {
      toggleOverlay(false);
    }
  });

  // A page restored by the back button starts a new measurement.
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) {
      spentMs = 0;
      countingSince = Date.now();
      submitting = false;
    }
  });

  ["keydown", "pointerdown", "wheel", "scroll"].forEach(function (name) {
    document.addEventListener(
      name,
      function () {
        lastActivityAt = Date.now();
        countTime();
      },
      { passive: true, capture: true }
    );
  });

  function isLeaseRequest(event) {
    var element = event.detail && event.detail.elt;
    return element && element.id === "lease-status";
  }

  document.body.addEventListener("htmx:beforeRequest", function (event) {
    if (isLeaseRequest(event) && Date.now() - lastActivityAt > IDLE_LIMIT_MS) {
      event.preventDefault();
    }
  });

  document.body.addEventListener("htmx:beforeSwap", function (event) {
    // 409: the lease is gone; show the server's explanation in place of the timer.
    if (isLeaseRequest(event) && event.detail.xhr.status === 409) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  // Lease times are shown in the reviewer's own clock.
  function showLeaseExpiry(isoTime) {
    var time = document.querySelector("[data-lease-expires]");
    var when = new Date(isoTime || "");
    if (!time || isNaN(when.getTime())) {
      return;
    }
    time.dateTime = isoTime;
    time.textContent = when.toLocaleTimeString(document.documentElement.lang || undefined, {
      hour: "2-digit",
      minute: "2-digit",
      hour12: false,
    });
  }

  document.body.addEventListener("htmx:afterRequest", function (event) {
    if (isLeaseRequest(event)) {
      showLeaseExpiry(event.detail.xhr.getResponseHeader("X-Lease-Expires"));
    }
  });

  var leaseTime = document.querySelector("[data-lease-expires]");
  if (leaseTime) {
    showLeaseExpiry(leaseTime.getAttribute("datetime"));
  }
  setActive(0, true);
})();
