// Shared by every console page: live countdowns, the wall clock, confirmations, row links.
// Countdowns use the server's clock (offset measured at page load), not the PC's: an operator
// PC a few minutes off must not show a promise as kept when it is not.
(function () {
  "use strict";
  const H = window.HUYUAN || {};
  const body = document.body;
  const serverNow = Date.parse(body.dataset.serverNow || "");
  const offset = Number.isNaN(serverNow) ? 0 : serverNow - Date.now();
  const now = () => Date.now() + offset;
  H.now = now;

  function two(n) { return String(n).padStart(2, "0"); }
  function span(ms) {
    const s = Math.floor(Math.abs(ms) / 1000);
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    return (h ? h + ":" + two(m) : two(m)) + ":" + two(sec);
  }

  function tick() {
    const t = now();
    document.querySelectorAll(".countdown").forEach(function (el) {
      const arrived = el.dataset.arrived;
      el.classList.remove("risk", "over", "arrived");
      if (arrived) {
        const mins = Math.round((Date.parse(arrived) - Date.parse(el.dataset.created)) / 60000);
        el.textContent = H.i18n.arrived.replace("{n}", mins);
        el.classList.add("arrived");
        return;
      }
      if (el.dataset.closed === "1") { el.textContent = "—"; return; }
      const left = Date.parse(el.dataset.deadline) - t;
      const row = el.closest(".sla-at_risk, .sla-breached");
      if (left < 0) {
        el.textContent = H.i18n.overdue + " " + span(left);
        el.classList.add("over");
      } else {
        el.textContent = span(left);
        if (left < 3 * 60000 || (row && row.classList.contains("sla-at_risk"))) el.classList.add("risk");
      }
    });
    const clock = document.getElementById("wallclock");
    if (clock && body.dataset.tz) {
      clock.textContent = new Date(t).toLocaleTimeString("zh-CN", { timeZone: body.dataset.tz, hour12: false });
    }
  }
  H.tick = tick;
  tick();
  setInterval(tick, 1000);

  document.addEventListener("submit", function (ev) {
    const msg = ev.target.dataset && ev.target.dataset.confirm;
    if (msg && !window.confirm(msg)) ev.preventDefault();
  });
  // A whole queue row opens the incident; buttons and links inside keep their own meaning.
  document.addEventListener("click", function (ev) {
    const row = ev.target.closest("tr[data-href]");
    if (row && !ev.target.closest("a, button, form, input")) window.location = row.dataset.href;
  });
  window.HUYUAN = H;
})();
