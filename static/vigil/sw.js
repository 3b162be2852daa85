/* Vigil's service worker, served as /sw.js (root scope) by escalation.push_views.
 *
 * It shows a page pushed by Vigil (the payload is JSON: title, body, tag, url, actions) and
 * answers its Acknowledge / Resolve buttons from the lock screen: each action carries a
 * signed token, POSTed to Vigil's /push/action/. The token is the credential (no cookie,
 * no CSRF token: a worker has neither); when the POST cannot be made, the action's signed
 * link opens its confirm page instead. No fetch handler: the portal is never cached. */
"use strict";

self.addEventListener("install", function () {
  self.skipWaiting();
});

self.addEventListener("activate", function (event) {
  event.waitUntil(self.clients.claim());
});

function readPayload(event) {
  if (!event.data) {
    return {};
  }
  try {
    return event.data.json();
  } catch (error) {
    return { title: "Vigil", body: event.data.text() };
  }
}

self.addEventListener("push", function (event) {
  var data = readPayload(event);
  var actions = (data.actions || []).map(function (a) {
    return { action: a.action, title: a.title };
  });
  event.waitUntil(self.registration.showNotification(data.title || "Vigil", {
    body: data.body || "",
    tag: data.tag || "vigil",
    renotify: true,
    // A page stays on screen until someone answers it.
    requireInteraction: data.kind === "page",
    icon: "/static/vigil/icon-192.png",
    badge: "/static/vigil/icon-192.png",
    data: data,
    actions: actions
  }));
});

function answer(chosen, data) {
  return fetch(chosen.url, {
    method: "POST",
    credentials: "omit",
    headers: { "Content-Type": "application/json", "Accept": "application/json" },
    body: JSON.stringify({ token: chosen.token })
  }).then(function (response) {
    return response.json().then(function (said) {
      return self.registration.showNotification(said.message || ("Vigil answered " + response.status), {
        tag: data.tag || "vigil",
        body: data.title || "",
        icon: "/static/vigil/icon-192.png",
        data: { url: data.url, actions: [] }
      });
    });
  }).catch(function () {
    // Offline, or Vigil unreachable from here: the signed link's confirm page acts too.
    return self.clients.openWindow(chosen.link || data.url || "/");
  });
}

self.addEventListener("notificationclick", function (event) {
  var data = event.notification.data || {};
  event.notification.close();
  var chosen = (data.actions || []).filter(function (a) {
    return a.action === event.action;
  })[0];
  if (chosen) {
    event.waitUntil(answer(chosen, data));
  } else {
    event.waitUntil(self.clients.openWindow(data.url || "/"));
  }
});

// The push service replaced this browser's subscription: tell Vigil, proving it with the
// old subscription's auth secret (a worker has no session and no CSRF token).
self.addEventListener("pushsubscriptionchange", function (event) {
  var old = event.oldSubscription;
  if (!old) {
    return;
  }
  var fresh = event.newSubscription ? Promise.resolve(event.newSubscription)
    : self.registration.pushManager.subscribe(old.options);
  event.waitUntil(fresh.then(function (subscription) {
    return fetch("/push/renew/", {
      method: "POST",
      credentials: "omit",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ old: old.toJSON(), new: subscription.toJSON() })
    });
  }));
});
