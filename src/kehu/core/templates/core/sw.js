// Kehu's service worker. Offline, a page shows the offline page. Only static files and the
// offline page are cached: pages and API answers hold personal data and never are.
"use strict";
const CONFIG = {{ config|safe }};

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches.open(CONFIG.cache)
      .then((cache) => cache.addAll([CONFIG.offline, ...CONFIG.assets]))
      .then(() => self.skipWaiting())
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((names) => Promise.all(
        names.filter((name) => name !== CONFIG.cache).map((name) => caches.delete(name))))
      .then(() => self.clients.claim())
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === "navigate") {
    // The network, always; the offline page only when there is none. Never cached.
    event.respondWith(fetch(request).catch(() => caches.match(CONFIG.offline)));
  } else if (url.pathname.startsWith(CONFIG.static)) {
    // Static files: fresh from the network, the cached copy when offline.
    event.respondWith(
      fetch(request)
        .then((response) => {
          if (response.ok) {
            const copy = response.clone();
            caches.open(CONFIG.cache).then((cache) => cache.put(request, copy));
          }
          return response;
        })
        .catch(() => caches.match(request).then((hit) => hit || Response.error()))
    );
  }
});
