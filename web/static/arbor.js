// Arbor login pages: progressive enhancement only. Every page works without this
// file; with it, waiting pages check again by themselves, the device profile step
// fills itself in, and the registration address gets a copy button. It is a static
// file because the Content-Security-Policy forbids inline scripts.
(function () {
  'use strict';

  function submit(form) {
    if (form.requestSubmit) {
      form.requestSubmit();
    } else {
      form.submit();
    }
  }

  // A device profile with what every browser tells any site; no location, which
  // would need a permission prompt.
  function profile(input) {
    var p = {};
    if (input.getAttribute('data-metadata') === 'true') {
      var zone = '';
      try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone || ''; } catch (e) { zone = ''; }
      p.metadata = {
        platform: { platform: navigator.platform || '', language: navigator.language || '', timezone: zone },
        browser: { userAgent: navigator.userAgent || '' }
      };
    }
    return p;
  }

  function busy(form) {
    // Do not pull the page from under someone selecting or copying the address, or
    // typing a code instead of waiting: a half-typed code would be checked (and
    // counted as a wrong one).
    var a = document.activeElement;
    var sel = window.getSelection ? String(window.getSelection()) : '';
    var typing = Array.prototype.some.call(form.querySelectorAll('input[type=text]'), function (i) {
      return i.value !== '';
    });
    return (a && a.tagName === 'TEXTAREA') || sel !== '' || typing;
  }

  function start() {
    var buttons = document.querySelectorAll('button[data-copy]');
    Array.prototype.forEach.call(buttons, function (b) {
      var target = document.getElementById(b.getAttribute('data-copy'));
      if (!target || !navigator.clipboard) {
        return;
      }
      b.hidden = false;
      b.addEventListener('click', function () {
        navigator.clipboard.writeText(target.value || target.textContent).then(function () {
          b.textContent = 'Copied';
        });
      });
    });

    var form = document.querySelector('form[data-step]');
    if (!form) {
      return;
    }
    var sent = false;
    var timer = null;
    // One submission per page: a poll and a click at the same moment would otherwise
    // both answer the same step.
    form.addEventListener('submit', function (ev) {
      if (sent) {
        ev.preventDefault();
        return;
      }
      sent = true;
      if (timer) {
        clearTimeout(timer);
      }
    });

    var prof = form.querySelector('input[data-device-profile]');
    if (prof) {
      prof.value = JSON.stringify(profile(prof));
    }
    if (form.hasAttribute('data-autosubmit')) {
      submit(form);
      return;
    }
    var wait = parseInt(form.getAttribute('data-poll'), 10);
    if (wait > 0) {
      var due = function () {
        if (busy(form)) {
          // Counted on the form, so a test (or a curious reader) can see a poll was held.
          form.setAttribute('data-held', String((parseInt(form.getAttribute('data-held'), 10) || 0) + 1));
          timer = setTimeout(due, wait);
          return;
        }
        submit(form);
      };
      timer = setTimeout(due, wait);
    }
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
})();
