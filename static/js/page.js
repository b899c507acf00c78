// Every reporter page (templates/intake/base.html): "Leave quickly", and
// copy and print of the receipt. Hand-written, no build step, no inline
// script (the CSP allows 'self' only). It stores nothing and sends nothing.
//
// Leave quickly: the link works without JavaScript (an ordinary link to a
// neutral site). With JavaScript, the link or Escape pressed twice within
// 1.5 s empties the forms and replaces this page with the neutral site
// (location.replace: the intake page is not kept as a step back in this
// tab's history).
(function () {
  "use strict";
  var ESCAPE_WINDOW_MS = 1500;
  var lastEscape = 0;

  function leave() {
    var link = document.getElementById("leave-quickly");
    var target = link ? link.href : "https://www.wikipedia.org/";
    var forms = document.forms;
    for (var i = 0; i < forms.length; i++) {
      try {
        forms[i].reset();
      } catch (e) {
        /* leave anyway */
      }
    }
    document.title = "";
    if (document.body) document.body.textContent = "";
    window.location.replace(target);
  }

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (!(target instanceof Element)) return;
    if (target.closest("#leave-quickly")) {
      event.preventDefault();
      leave();
      return;
    }
    var action = target.closest("[data-receipt-action]");
    if (!action) return;
    var box = action.closest(".receipt");
    var output = box ? box.querySelector("output") : null;
    var text = output ? output.textContent : "";
    if (action.getAttribute("data-receipt-action") === "print") {
      window.print();
      return;
    }
    var status = box.querySelector("[data-copied]");
    function say(attribute) {
      if (status) status.textContent = status.getAttribute(attribute);
    }
    // No clipboard API (an http:// address that is not a secure context,
    // an old browser) or a refusal: select the number, try the older copy
    // command, and otherwise ask the reporter to copy it by hand.
    function byHand() {
      var copied = false;
      if (output && window.getSelection && document.createRange) {
        var range = document.createRange();
        range.selectNodeContents(output);
        var selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        try {
          copied = document.execCommand("copy") === true;
        } catch (e) {
          copied = false;
        }
      }
      say(copied ? "data-copied" : "data-copy-by-hand");
    }
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(text).then(function () {
        say("data-copied");
      }, byHand);
    } else {
      byHand();
    }
  });

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape" && event.key !== "Esc") return;
    var now = Date.now();
    if (now - lastEscape <= ESCAPE_WINDOW_MS) {
      lastEscape = 0;
      leave();
    } else {
      lastEscape = now;
    }
  });

  function showReceiptActions() {
    var boxes = document.querySelectorAll(".receipt-actions");
    for (var i = 0; i < boxes.length; i++) boxes[i].hidden = false;
  }
  // The bundle inserts the receipt after an upload: show its buttons too.
  document.addEventListener("tnr:receipt", showReceiptActions);
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", showReceiptActions);
  else showReceiptActions();
})();
