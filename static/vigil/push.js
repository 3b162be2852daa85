/* Registers Vigil's service worker (/sw.js, root scope) on every portal page, and turns on
 * push for this browser when the "#push-subscribe" button (the Push page, or any page that
 * carries one) is pressed: the subscription goes to data-subscribe-url with the page's CSRF
 * token (data-csrf). No inline script: the CSP allows none. */
(function () {
  "use strict";
  if (!("serviceWorker" in navigator)) {
    return;
  }
  var registered = navigator.serviceWorker.register("/sw.js", { scope: "/" });
  window.vigilServiceWorker = registered;

  var button = document.getElementById("push-subscribe");
  var status = document.getElementById("push-status");
  if (!button) {
    return;
  }

  function say(text) {
    if (status) {
      status.textContent = text;
    }
  }

  function keyBytes(base64url) {
    var padded = (base64url + "===".slice((base64url.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
    var raw = atob(padded);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) {
      bytes[i] = raw.charCodeAt(i);
    }
    return bytes;
  }

  if (!("PushManager" in window)) {
    button.disabled = true;
    say("This browser cannot receive push notifications. On an iPhone, add Vigil to the Home Screen first.");
    return;
  }

  button.addEventListener("click", function () {
    button.disabled = true;
    say("Asking this browser for permission…");
    Notification.requestPermission().then(function (permission) {
      if (permission !== "granted") {
        throw new Error("Notifications are blocked for this site; allow them in the browser's settings.");
      }
      return registered;
    }).then(function (registration) {
      return registration.pushManager.subscribe({
        userVisibleOnly: true,
        applicationServerKey: keyBytes(button.dataset.vapidKey)
      });
    }).then(function (subscription) {
      return fetch(button.dataset.subscribeUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": button.dataset.csrf },
        body: JSON.stringify(subscription.toJSON())
      });
    }).then(function (response) {
      return response.json().then(function (said) {
        if (!response.ok) {
          throw new Error(said.message || ("Vigil answered " + response.status));
        }
        say(said.message);
      });
    }).catch(function (error) {
      say(error.message || String(error));
    }).then(function () {
      button.disabled = false;
    });
  });
})();
