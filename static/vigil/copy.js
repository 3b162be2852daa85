// Copy buttons: <button data-copy-target="some-id"> copies the text of #some-id.
// A static file, not an inline script: the Content-Security-Policy forbids inline scripts.
(function () {
  "use strict";

  function fallbackCopy(text) {
    // Older browsers and plain-http pages without navigator.clipboard.
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "vigil-copy-buffer";
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try {
      ok = document.execCommand("copy");
    } catch (err) {
      ok = false;
    }
    document.body.removeChild(area);
    return ok ? Promise.resolve() : Promise.reject(new Error("copy refused"));
  }

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text).catch(function () {
        return fallbackCopy(text);
      });
    }
    return fallbackCopy(text);
  }

  function selectContents(source, isField) {
    // When the browser refuses to copy, leave the text selected for a manual copy.
    if (isField) {
      source.select();
      return;
    }
    var range = document.createRange();
    range.selectNodeContents(source);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  function flash(button, label) {
    var original = button.getAttribute("data-copy-label") || button.textContent;
    button.setAttribute("data-copy-label", original);
    button.textContent = label;
    window.setTimeout(function () {
      button.textContent = original;
    }, 1500);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("button[data-copy-target]") : null;
    if (!button) {
      return;
    }
    var source = document.getElementById(button.getAttribute("data-copy-target"));
    if (!source) {
      return;
    }
    event.preventDefault();
    var isField = source.tagName === "INPUT" || source.tagName === "TEXTAREA";
    var text = isField ? source.value : source.textContent;
    copyText(text.trim()).then(
      function () { flash(button, "Copied"); },
      function () {
        selectContents(source, isField);
        flash(button, "Press Ctrl+C");
      }
    );
  });
})();
