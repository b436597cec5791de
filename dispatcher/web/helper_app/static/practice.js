// Practice mode ("模拟求助"): walks through an offer in the browser only. No request is made.
"use strict";
(function () {
  let timer = null;
  function show(step) {
    document.querySelectorAll("[data-step]").forEach(function (el) { el.hidden = el.dataset.step !== step; });
    clearInterval(timer);
    if (step === "offer") {
      let left = 60;
      const el = document.getElementById("p-countdown");
      const draw = function () { el.textContent = "00:" + String(left).padStart(2, "0"); };
      el.textContent = "01:00";
      timer = setInterval(function () {
        left -= 1;
        if (left <= 0) { clearInterval(timer); show("declined"); return; }
        draw();
      }, 1000);
    }
    window.HUYUAN_PRACTICE = step;
  }
  document.addEventListener("click", function (ev) {
    const target = ev.target instanceof Element ? ev.target.closest("[data-go]") : null;
    if (target) show(target.getAttribute("data-go"));
  });
  show("offer");
})();
