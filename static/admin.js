/*
 * Tsunagu dashboard behaviour. Everything that talks to the app goes through fetch, which App Bridge
 * (or the emulator's stand-in) signs with `Authorization: Bearer <id_token>`; page-to-page links carry a
 * fresh id_token so the next page load verifies without a bounce; every fetch names the page's language
 * (X-Tsunagu-Locale) so answers come back in it. Without App Bridge the links still work
 * (the patch-id-token page fetches a token) and the pages stay readable.
 */
(function () {
  "use strict";

  var LAUNCH = ["shop", "host", "embedded", "locale"];
  var lang = document.documentElement.lang || "en";

  function hasBridge() {
    return !!(window.shopify && typeof window.shopify.idToken === "function");
  }

  function toast(message, isError) {
    if (!message) return;
    if (hasBridge() && window.shopify.toast) {
      window.shopify.toast.show(message, { isError: !!isError });
    }
    var live = document.getElementById("ts-live");
    if (live) live.textContent = message;
  }

  // -- navigation with a fresh session token -------------------------------------------------------------
  function go(href) {
    var url = new URL(href, location.href);
    var here = new URLSearchParams(location.search);
    LAUNCH.forEach(function (name) {
      if (!url.searchParams.has(name) && here.get(name)) url.searchParams.set(name, here.get(name));
    });
    url.searchParams.delete("id_token");
    if (!hasBridge()) {
      location.assign(url.toString());
      return;
    }
    window.shopify.idToken().then(function (token) {
      url.searchParams.set("id_token", token);
      location.assign(url.toString());
    }, function () {
      location.assign(url.toString());
    });
  }
  window.tsunaguGo = go;

  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a[href]");
    if (!link || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
    if (link.target === "_blank" || link.hasAttribute("download") || link.hasAttribute("data-ts-download")) return;
    var url = new URL(link.href, location.href);
    if (url.origin !== location.origin || url.pathname.indexOf("/static/") === 0) return;
    if (url.pathname === location.pathname && url.search === location.search && url.hash) return;
    event.preventDefault();
    go(url.toString());
  });

  // -- GET forms (search): navigate like a link -----------------------------------------------------------
  function getForm(form) {
    var url = new URL(form.action || location.href, location.href);
    new FormData(form).forEach(function (value, name) {
      if (typeof value === "string") url.searchParams.set(name, value);
    });
    go(url.toString());
  }

  // -- POST forms: fetch, JSON answer, messages beside the fields -----------------------------------------
  function clearErrors(form) {
    form.querySelectorAll("[data-error-for]").forEach(function (node) { node.textContent = ""; });
    form.querySelectorAll("[aria-invalid]").forEach(function (node) { node.removeAttribute("aria-invalid"); });
    var summary = form.querySelector(".ts-form-message");
    if (summary) { summary.textContent = ""; summary.removeAttribute("data-tone"); }
  }

  function showResult(form, body, ok) {
    var summary = form.querySelector(".ts-form-message");
    if (summary && body.message) {
      summary.textContent = body.message;
      summary.setAttribute("data-tone", ok ? "success" : "critical");
    }
    Object.keys(body.errors || {}).forEach(function (name) {
      var slot = form.querySelector('[data-error-for="' + name + '"]');
      if (slot) slot.textContent = body.errors[name];
      var input = form.querySelector('[name="' + name + '"]');
      if (input) {
        input.setAttribute("aria-invalid", "true");
        if (slot && slot.id) input.setAttribute("aria-describedby", slot.id);
      }
    });
    var first = form.querySelector('[aria-invalid="true"]');
    if (first) first.focus();
  }

  function postForm(form, submitter) {
    var action = (submitter && submitter.getAttribute("formaction")) || form.getAttribute("action") || location.pathname;
    var data = new FormData(form);
    if (submitter && submitter.name) data.set(submitter.name, submitter.value);
    data.set("locale", lang);
    clearErrors(form);
    var buttons = form.querySelectorAll("button");
    buttons.forEach(function (b) { b.setAttribute("aria-busy", "true"); b.disabled = true; });
    if (hasBridge() && window.shopify.loading) window.shopify.loading(true);
    return fetch(action, {
      method: "POST",
      body: data,
      headers: { "Accept": "application/json", "X-Tsunagu-Locale": lang },
    }).then(function (response) {
      return response.json().catch(function () {
        return { ok: false, message: form.getAttribute("data-error-message") || ("HTTP " + response.status) };
      }).then(function (body) { return [response.ok && body.ok !== false, body]; });
    }).then(function (pair) {
      var ok = pair[0], body = pair[1];
      showResult(form, body, ok);
      var target = body.html !== undefined && document.querySelector(form.getAttribute("data-ts-target") || "[data-ts-result]");
      if (target) {
        target.innerHTML = body.html;
        target.querySelectorAll("[data-ts-poll]").forEach(poll);  // work queued for the worker: follow it
      }
      if (ok) {
        if (!body.html) toast(body.message, false);
        if (body.redirect) return go(body.redirect);
        if (body.reload) return go(location.href);
      }
    }).catch(function () {
      showResult(form, { message: form.getAttribute("data-error-message") || "Network error" }, false);
    }).finally(function () {
      buttons.forEach(function (b) { b.removeAttribute("aria-busy"); b.disabled = false; });
      if (hasBridge() && window.shopify.loading) window.shopify.loading(false);
    });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches("form[data-ts-form]")) return;
    event.preventDefault();
    if ((form.getAttribute("method") || "get").toLowerCase() === "get") {
      getForm(form);
    } else {
      postForm(form, event.submitter);
    }
  });

  // -- downloads (CSV) through fetch, so the request carries the session token ------------------------------
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a[data-ts-download]");
    if (!link) return;
    event.preventDefault();
    fetch(link.href, { headers: { "Accept": "text/csv", "X-Tsunagu-Locale": lang } }).then(function (response) {
      if (!response.ok) throw new Error("HTTP " + response.status);
      return response.blob();
    }).then(function (blob) {
      var url = URL.createObjectURL(blob);
      var a = document.createElement("a");
      a.href = url;
      a.download = link.getAttribute("data-ts-download") || "download.csv";
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(function () { URL.revokeObjectURL(url); }, 10000);
    }).catch(function () {
      toast(link.getAttribute("data-error-message") || "Download failed", true);
    });
  });

  // -- polling (backfill progress, jobs) ---------------------------------------------------------------------
  function poll(node) {
    var every = parseInt(node.getAttribute("data-ts-every") || "2000", 10);
    function tick() {
      fetch(node.getAttribute("data-ts-poll"), { headers: { "Accept": "application/json", "X-Tsunagu-Locale": lang } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (body) {
          if (!body) return;
          if (body.html !== undefined) node.innerHTML = body.html;
          if (body.reload) return go(location.href);  // newer figures are ready
          if (!body.finished) setTimeout(tick, every);
        })
        .catch(function () { setTimeout(tick, every * 2); });
    }
    setTimeout(tick, every);
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-ts-poll]").forEach(poll);
    // Keep the admin's URL bar free of the one-use token (the stand-in and App Bridge sync the location).
    if (location.search.indexOf("id_token=") >= 0 && history.replaceState) {
      var clean = new URL(location.href);
      clean.searchParams.delete("id_token");
      history.replaceState(null, "", clean.toString());
    }
  });
})();
