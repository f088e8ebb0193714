// Progressive enhancement of the console's pages; each works without it.
(function () {
  'use strict';
  var selected = function () {
    return document.querySelectorAll('input[name="orderIds"]:checked').length;
  };
  // The queue refreshes itself, except while the operator has refunds selected: a refresh would drop the selection.
  document.addEventListener('htmx:beforeRequest', function (event) {
    if (event.detail.elt && event.detail.elt.id === 'queue-rows' && selected() > 0) event.preventDefault();
  });
  document.addEventListener('change', function (event) {
    var target = event.target;
    if (target && target.id === 'select-all') {
      document.querySelectorAll('input[name="orderIds"]').forEach(function (box) {
        box.checked = target.checked;
      });
    }
    var button = document.getElementById('apply-bulk');
    if (button) button.textContent = 'Apply to ' + selected() + ' selected';
  });
  // A form is sent once: a second click while the first is on its way would only be refused as a repeat.
  document.addEventListener('submit', function (event) {
    var form = event.target;
    if (form.method === 'post') {
      form.querySelectorAll('button').forEach(function (button) {
        setTimeout(function () {
          button.disabled = true;
        }, 0);
      });
    }
  });
})();
