/*
 * Stand-in for Shopify App Bridge (https://cdn.shopify.com/shopifycloud/app-bridge.js), served by the
 * emulator's admin stand-in. It runs inside the app's iframe and talks to the parent admin page with
 * postMessage, like the real one: shopify.idToken(), Authorization on same-origin fetches, toasts,
 * title and location sync. Only what Tsunagu uses; anything else should fail loudly, not pretend.
 */
(function () {
  "use strict";
  if (window.shopify && window.shopify.__emulated) return;

  var PREFIX = "emulator:";
  var AUTH_PARAMS = ["embedded", "hmac", "host", "id_token", "locale", "session", "shop", "timestamp"];
  // The api key comes from <meta name="shopify-api-key"> or, on shopifyapp's bounce pages, data-api-key.
  var script = document.currentScript;
  var meta = document.querySelector('meta[name="shopify-api-key"]');
  var apiKey = (meta && meta.getAttribute("content")) || (script && script.getAttribute("data-api-key"));
  if (!apiKey) console.error('[App Bridge stand-in] <meta name="shopify-api-key"> is missing');

  // The admin page and this script share the emulator's origin: answer only to it.
  var adminOrigin = script ? new URL(script.src, location.href).origin : null;
  var params = new URLSearchParams(location.search);
  var saved = JSON.parse(sessionStorage.getItem(PREFIX + "config") || "{}");
  var config = {
    apiKey: apiKey,
    shop: params.get("shop") || saved.shop || null,
    host: params.get("host") || saved.host || null,
    locale: params.get("locale") || saved.locale || "ja",
  };
  sessionStorage.setItem(PREFIX + "config", JSON.stringify(config));

  function post(type, data) {
    if (window.parent === window || !adminOrigin) return;
    window.parent.postMessage(Object.assign({ type: PREFIX + type }, data || {}), adminOrigin);
  }

  // -- session tokens -------------------------------------------------------------------------------
  var cached = params.get("id_token");
  var pending = {};
  var counter = 0;

  function secondsLeft(token) {
    try {
      var part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      return JSON.parse(atob(part)).exp - Date.now() / 1000;
    } catch (e) {
      return -1;
    }
  }

  window.addEventListener("message", function (event) {
    if (event.origin !== adminOrigin || event.source !== window.parent) return;
    var data = event.data || {};
    if (data.type !== PREFIX + "id_token:response" || !pending[data.requestId]) return;
    var waiter = pending[data.requestId];
    delete pending[data.requestId];
    if (data.idToken) {
      cached = data.idToken;
      waiter.resolve(data.idToken);
    } else {
      waiter.reject(new Error(data.error || "no id_token"));
    }
  });

  function idToken(options) {
    var force = options && options.force;
    // Like App Bridge, reuse a token while it has some life left (they live 60 s).
    if (!force && cached && secondsLeft(cached) > 10) return Promise.resolve(cached);
    var requestId = String(++counter);
    return new Promise(function (resolve, reject) {
      pending[requestId] = { resolve: resolve, reject: reject };
      post("id_token:request", { requestId: requestId, apiKey: apiKey });
      setTimeout(function () {
        if (!pending[requestId]) return;
        delete pending[requestId];
        reject(new Error("App Bridge stand-in: the admin page did not answer"));
      }, 5000);
    });
  }

  // -- fetch: same-origin requests carry Authorization: Bearer <id_token> ----------------------------
  var originalFetch = window.fetch.bind(window);

  function withToken(request, token) {
    var headers = new Headers(request.headers);
    headers.set("Authorization", "Bearer " + token);
    return new Request(request, { headers: headers });
  }

  window.fetch = function (input, init) {
    var request = new Request(input, init);
    if (new URL(request.url).origin !== location.origin || request.headers.has("Authorization")) {
      return originalFetch(request);
    }
    var spare = request.clone();
    return idToken().then(function (token) {
      return originalFetch(withToken(request, token)).then(function (response) {
        // The app asks for one retry with a fresh token when the session token was rejected.
        if (response.status !== 401 || response.headers.get("X-Shopify-Retry-Invalid-Session-Request") !== "1") {
          return response;
        }
        return idToken({ force: true }).then(function (fresh) {
          return originalFetch(withToken(spare, fresh));
        });
      });
    });
  };

  // -- navigation: the patch-id-token bounce and window.open(url, "_top") -------------------------------
  var reload = params.get("shopify-reload");
  if (reload) {
    // shopifyapp's patch page: come back to the app URL with a fresh id_token (same origin only).
    var target = new URL(reload, location.href);
    if (target.origin === location.origin) {
      idToken({ force: true }).then(function (token) {
        target.searchParams.set("id_token", token);
        location.replace(target.toString());
      });
    }
  }

  var originalOpen = window.open.bind(window);
  window.open = function (url, target, features) {
    if (target === "_top" || target === "_parent") {
      post("navigate", { url: new URL(url, location.href).toString() });
      return null;
    }
    return originalOpen(url, target, features);
  };

  // -- title and location sync -----------------------------------------------------------------------
  function appPath() {
    var query = new URLSearchParams(location.search);
    AUTH_PARAMS.forEach(function (name) { query.delete(name); });
    var rest = query.toString();
    return location.pathname + (rest ? "?" + rest : "") + location.hash;
  }

  function syncLocation() { post("location", { path: appPath() }); }
  function syncTitle() { post("title", { title: document.title }); }

  ["pushState", "replaceState"].forEach(function (name) {
    var original = history[name];
    history[name] = function () {
      var result = original.apply(this, arguments);
      syncLocation();
      return result;
    };
  });
  window.addEventListener("popstate", syncLocation);
  document.addEventListener("DOMContentLoaded", function () {
    syncTitle();
    syncLocation();
    var title = document.querySelector("title");
    if (title) new MutationObserver(syncTitle).observe(title, { childList: true, characterData: true, subtree: true });
  });

  window.shopify = {
    __emulated: true,
    config: config,
    environment: { embedded: window.parent !== window, mobile: false, pos: false },
    idToken: function () { return idToken(); },
    toast: {
      show: function (message, options) {
        post("toast", { message: String(message), isError: !!(options && options.isError), duration: (options && options.duration) || 5000 });
      },
    },
    loading: function (isLoading) { post("loading", { loading: isLoading !== false }); },
  };
})();
