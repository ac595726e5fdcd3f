// Copy buttons: <button data-copy="<id>"> copies the text of the element with that id.
(function () {
  "use strict";
  function selectText(el) {
    var range = document.createRange();
    range.selectNodeContents(el);
    var sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
  }
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      var el = document.getElementById(button.dataset.copy);
      if (!el) { return; }
      var text = el.textContent;
      function done(label) { button.textContent = label; setTimeout(function () { button.textContent = "Copy"; }, 2000); }
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(function () { done("Copied"); },
          function () { selectText(el); done("Selected: press Ctrl+C"); });
      } else {
        selectText(el);
        done("Selected: press Ctrl+C");
      }
    });
  });
})();
