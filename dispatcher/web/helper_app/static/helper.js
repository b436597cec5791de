// Helper app: countdowns, position sharing while on duty, live refresh over SSE, service worker.
// Data reaches the page only as server-rendered (autoescaped) HTML or through textContent.
"use strict";
(function () {
  const body = document.body;
  const state = (window.HUYUAN_HELPER = { locationsSent: 0, refreshes: 0, live: false, lastError: null });
  const skew = Date.parse(body.dataset.serverNow || "") - Date.now() || 0; // server clock - ours
  const LOCATION_EVERY_MS = 60 * 1000;
  let lastSent = 0;
  let watchId = null;

  function csrf() { return document.body.dataset.csrf || ""; }
  function pad(n) { return String(n).padStart(2, "0"); }

  function tick() {
    const now = Date.now() + skew;
    document.querySelectorAll("[data-until]").forEach(function (el) {
      const left = Math.max(0, Math.round((Date.parse(el.dataset.until) - now) / 1000));
      el.textContent = pad(Math.floor(left / 60)) + ":" + pad(left % 60);
      el.classList.toggle("urgent", left <= 15);
    });
  }

  function setStatus(text) {
    const el = document.getElementById("loc-status");
    if (el) el.textContent = text;
  }

  function sendPosition(pos, force) {
    const now = Date.now();
    if (!force && now - lastSent < LOCATION_EVERY_MS) return;
    lastSent = now;
    const form = new URLSearchParams({
      lat: String(pos.coords.latitude), lon: String(pos.coords.longitude),
      acc: String(Math.round(pos.coords.accuracy || 0)),
    });
    fetch("/helper/location", {
      method: "POST", body: form, credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf() },
    }).then(function (r) {
      if (r.status === 204) {
        state.locationsSent += 1;
        const t = new Date();
        setStatus("位置已共享 " + pad(t.getHours()) + ":" + pad(t.getMinutes()) + " · location shared");
      } else if (r.status === 401) {
        location.href = "/helper/login";
      }
    }).catch(function () { setStatus("网络中断，稍后重试 · offline, retrying"); lastSent = 0; });
  }

  function watchPosition() {
    const onDuty = document.body.dataset.onDuty === "1";
    if (!onDuty && watchId !== null) {
      navigator.geolocation.clearWatch(watchId);
      watchId = null;
    }
    if (!onDuty || watchId !== null || !("geolocation" in navigator)) return;
    watchId = navigator.geolocation.watchPosition(
      function (pos) { sendPosition(pos, false); },
      function (err) { state.lastError = err.message; setStatus("无法定位，请允许位置权限 · allow location access"); },
      { enableHighAccuracy: true, maximumAge: 30000, timeout: 20000 }
    );
  }

  // Forms that carry the browser's position (going on duty, arrival): fill it in first.
  document.addEventListener("submit", function (ev) {
    const form = ev.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-with-position")) return;
    if (form.dataset.located === "1" || !("geolocation" in navigator)) return;
    ev.preventDefault();
    const button = form.querySelector("button[type=submit]");
    if (button) button.disabled = true;
    const done = function () { form.dataset.located = "1"; form.submit(); };
    navigator.geolocation.getCurrentPosition(function (pos) {
      form.elements.namedItem("lat").value = String(pos.coords.latitude);
      form.elements.namedItem("lon").value = String(pos.coords.longitude);
      done();
    }, done, { enableHighAccuracy: true, timeout: 10000, maximumAge: 10000 });
  });

  // Live: the stream says "changed", the page fetches itself and swaps its main part.
  function busy() {
    const el = document.activeElement;
    return el && el.closest && el.closest("#app") && /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName);
  }
  let pending = false;
  function refresh() {
    if (busy()) { pending = true; return; }
    pending = false;
    fetch(location.pathname, { credentials: "same-origin" }).then(function (r) {
      if (r.redirected && r.url.indexOf("/helper/login") >= 0) { location.href = r.url; return null; }
      return r.ok ? r.text() : null;
    }).then(function (html) {
      if (!html) return;
      const doc = new DOMParser().parseFromString(html, "text/html");
      const fresh = doc.getElementById("app");
      const current = document.getElementById("app");
      if (!fresh || !current) return;
      current.replaceWith(document.adoptNode(fresh));
      document.body.dataset.onDuty = doc.body.dataset.onDuty || "0";
      state.refreshes += 1;
      tick(); watchPosition(); showLive();
    });
  }
  document.addEventListener("focusout", function () { if (pending) setTimeout(refresh, 50); });

  function showLive() {
    const el = document.getElementById("live");
    if (el) { el.hidden = !state.live; el.classList.toggle("on", state.live); }
  }

  function connect() {
    if (document.body.dataset.signedIn !== "1" || !window.EventSource || location.pathname !== "/helper/") return;
    const es = new EventSource("/helper/stream");
    es.addEventListener("hello", function () { state.live = true; showLive(); });
    es.addEventListener("changed", refresh);
    es.addEventListener("signout", function () { es.close(); location.href = "/helper/login"; });
    es.onerror = function () { state.live = false; showLive(); };
  }

  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/helper/sw.js", { scope: "/helper/" }).catch(function () {});
  }
  tick();
  setInterval(tick, 1000);
  watchPosition();
  connect();
})();
