// WebAuthn for the reviewer console: register a security key or passkey, and
// log in with one. Served from the console's own origin (CSP script-src
// 'self'); no inline script. The server sends options as JSON with
// base64url-encoded binary fields and checks everything; this file only
// converts between JSON and ArrayBuffers and calls navigator.credentials.
"use strict";

(function () {
  function toBuffer(b64url) {
    const b64 = b64url.replace(/-/g, "+").replace(/_/g, "/");
    const padded = b64 + "===".slice((b64.length + 3) % 4);
    const raw = atob(padded);
    const out = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out.buffer;
  }

  function toB64url(buffer) {
    const bytes = new Uint8Array(buffer);
    let raw = "";
    for (let i = 0; i < bytes.length; i++) raw += String.fromCharCode(bytes[i]);
    return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function csrfToken() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  async function post(url, body) {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify(body || {}),
    });
    let doc = {};
    try {
      doc = await response.json();
    } catch (e) {
      doc = {};
    }
    if (!response.ok) throw new Error(doc.error || "HTTP " + response.status);
    return doc;
  }

  function say(text) {
    const status = document.getElementById("webauthn-status");
    if (status) status.textContent = text;
  }

  // The page's own words, in the console's language (data-* on the status
  // line); English when a page has none.
  function words(name, fallback) {
    const status = document.getElementById("webauthn-status");
    return (status && status.dataset[name]) || fallback;
  }

  function descriptors(list) {
    return (list || []).map(function (c) {
      return { type: c.type, id: toBuffer(c.id), transports: c.transports };
    });
  }

  async function register(button) {
    const options = await post(button.dataset.options);
    const publicKey = Object.assign({}, options, {
      challenge: toBuffer(options.challenge),
      user: Object.assign({}, options.user, { id: toBuffer(options.user.id) }),
      excludeCredentials: descriptors(options.excludeCredentials),
    });
    const credential = await navigator.credentials.create({ publicKey: publicKey });
    const nameField = document.getElementById("webauthn-name");
    const response = credential.response;
    const done = await post(button.dataset.verify, {
      name: nameField ? nameField.value : "",
      credential: {
        id: credential.id,
        rawId: toB64url(credential.rawId),
        type: credential.type,
        response: {
          clientDataJSON: toB64url(response.clientDataJSON),
          attestationObject: toB64url(response.attestationObject),
          transports: response.getTransports ? response.getTransports() : [],
        },
        clientExtensionResults: credential.getClientExtensionResults(),
      },
    });
    window.location.assign(done.redirect);
  }

  async function login(button) {
    const options = await post(button.dataset.options);
    const publicKey = Object.assign({}, options, {
      challenge: toBuffer(options.challenge),
      allowCredentials: descriptors(options.allowCredentials),
    });
    const credential = await navigator.credentials.get({ publicKey: publicKey });
    const response = credential.response;
    const done = await post(button.dataset.verify, {
      id: credential.id,
      rawId: toB64url(credential.rawId),
      type: credential.type,
      response: {
        clientDataJSON: toB64url(response.clientDataJSON),
        authenticatorData: toB64url(response.authenticatorData),
        signature: toB64url(response.signature),
        userHandle: response.userHandle ? toB64url(response.userHandle) : null,
      },
      clientExtensionResults: credential.getClientExtensionResults(),
    });
    window.location.assign(done.redirect);
  }

  function wire(id, action) {
    const button = document.getElementById(id);
    if (!button) return;
    if (!window.PublicKeyCredential) {
      button.disabled = true;
      say(words("unsupported", "This browser cannot use security keys here."));
      return;
    }
    button.addEventListener("click", function () {
      button.disabled = true;
      say(words("waiting", "Waiting for the security key…"));
      action(button).catch(function (error) {
        button.disabled = false;
        const reason = error && error.message ? error.message : words("cancelled", "cancelled");
        say(words("failed", "Not done: %s").replace("%s", reason));
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    wire("webauthn-register", register);
    wire("webauthn-login", login);
  });
})();
