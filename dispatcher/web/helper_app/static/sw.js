// Helper app service worker: makes the app installable and keeps its shell for poor networks.
// Only static files are cached; pages, actions and the live stream always go to the server
// (they carry personal data and must be current).
"use strict";
const CACHE = "huyuan-helper-v1";
const SHELL = ["/helper/static/helper.css", "/helper/static/helper.js",
               "/helper/static/practice.js", "/helper/static/icon.svg"];

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(CACHE).then(function (c) { return c.addAll(SHELL); }));
  self.skipWaiting();
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (keys) {
    return Promise.all(keys.filter(function (k) { return k !== CACHE; }).map(function (k) { return caches.delete(k); }));
  }).then(function () { return self.clients.claim(); }));
});

self.addEventListener("fetch", function (event) {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin) return;
  if (url.pathname.startsWith("/helper/static/")) {
    // Stale-while-revalidate for the shell.
    event.respondWith(caches.open(CACHE).then(function (cache) {
      return cache.match(event.request).then(function (hit) {
        const fresh = fetch(event.request).then(function (r) { if (r.ok) cache.put(event.request, r.clone()); return r; });
        return hit || fresh;
      });
    }));
  }
});
