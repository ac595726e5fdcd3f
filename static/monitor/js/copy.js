// Copy buttons: <button data-copy="<id>"> copies the text of the element with that id. One
// listener on the document, so buttons in content swapped in by a refresh work too.
(function () {
  "use strict";
  function selectText(el) {
    var range = document.createRange();
    range.selectNodeContents(el);
    var sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
  }
  document.addEventListener("click", function (ev) {
    var button = ev.target.closest && ev.target.closest("button[data-copy]");
    if (!button) { return; }
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
})();
