// The live queue: rows arrive over server-sent events (no reload); a new emergency that nobody
// has taken plays a beep (Web Audio, no sound file) and stays highlighted until taken.
(function () {
  "use strict";
  const H = window.HUYUAN;
  const tbody = document.getElementById("queue-rows");
  const live = document.getElementById("live");
  const soundBtn = document.getElementById("sound");
  const templates = JSON.parse(document.getElementById("queue").dataset.templates);
  // Announced ids survive navigation within the tab, so going back to the queue is quiet.
  const announced = new Set(JSON.parse(sessionStorage.getItem("huyuan.announced") || "[]"));
  H.beeps = 0;
  let audio = null;

  function context() {
    if (!audio) {
      const Ctx = window.AudioContext || window.webkitAudioContext;
      if (!Ctx) return null;
      audio = new Ctx();
    }
    return audio;
  }
  function beep() {
    const ctx = context();
    if (!ctx) return;
    if (ctx.state === "suspended") {
      // Browsers allow sound only after a click on the page: if resuming does not work at
      // once, offer the button (any click on it counts).
      ctx.resume().catch(function () {});
      setTimeout(function () { soundBtn.hidden = ctx.state === "running"; }, 500);
    }
    [0, 0.28, 0.56].forEach(function (at) {
      const osc = ctx.createOscillator(), gain = ctx.createGain();
      osc.type = "square";
      osc.frequency.value = at === 0.28 ? 660 : 880;
      gain.gain.setValueAtTime(0.0001, ctx.currentTime + at);
      gain.gain.exponentialRampToValueAtTime(0.25, ctx.currentTime + at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, ctx.currentTime + at + 0.22);
      osc.connect(gain).connect(ctx.destination);
      osc.start(ctx.currentTime + at);
      osc.stop(ctx.currentTime + at + 0.24);
    });
    H.beeps += 1;
  }
  soundBtn.addEventListener("click", function () {
    const ctx = context();
    if (ctx) ctx.resume().then(function () { soundBtn.hidden = true; });
  });

  function announce(first) {
    let fresh = false;
    tbody.querySelectorAll("tr[data-untaken='1'][data-emergency='1']").forEach(function (tr) {
      if (!announced.has(tr.dataset.id)) { announced.add(tr.dataset.id); fresh = true; }
    });
    sessionStorage.setItem("huyuan.announced", JSON.stringify(Array.from(announced).slice(-500)));
    if (fresh) beep();
    return first;
  }

  function connect() {
    const source = new EventSource("/console/stream");
    source.addEventListener("open", function () { live.className = "live on"; live.textContent = H.i18n.live; });
    source.addEventListener("error", function () { live.className = "live off"; live.textContent = H.i18n.offline; });
    source.addEventListener("queue", function (ev) {
      const data = JSON.parse(ev.data);
      tbody.innerHTML = data.rows;
      document.querySelectorAll("#kpis .kpi").forEach(function (k) {
        k.textContent = templates[k.dataset.k].replace("{n}", data.counts[k.dataset.k]);
      });
      H.tick();
      announce(false);
      H.updates = (H.updates || 0) + 1;
    });
  }
  announce(true);
  connect();
})();
