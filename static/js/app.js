/* Wraparound: small progressive enhancements. Every page works without this file.
   Words shown to people live in the templates (data-* attributes), never here. */
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  function onReady(fn) {
    if (document.readyState === "loading") {
      document.addEventListener("DOMContentLoaded", fn);
    } else {
      fn();
    }
  }

  /* ---------- Buttons that need JavaScript are hidden in the HTML and shown here. */
  function enhance(root) {
    root.querySelectorAll("[data-print]").forEach(function (button) {
      button.hidden = false;
      if (button.dataset.bound) return;
      button.dataset.bound = "1";
      button.addEventListener("click", function () { window.print(); });
    });
    root.querySelectorAll("[data-copy]").forEach(function (button) {
      if (!navigator.clipboard) return;
      button.hidden = false;
      if (button.dataset.bound) return;
      button.dataset.bound = "1";
      var original = button.textContent;
      button.addEventListener("click", function () {
        var field = document.querySelector(button.dataset.copy);
        if (!field) return;
        navigator.clipboard.writeText(field.value).then(function () {
          button.textContent = button.dataset.copiedText || original;
          setTimeout(function () { button.textContent = original; }, 2500);
        }, function () { field.select(); });
      });
    });
    var locate = root.querySelector("#use-location");
    if (locate && "geolocation" in navigator) {
      locate.hidden = false;
      if (!locate.dataset.bound) {
        locate.dataset.bound = "1";
        locate.addEventListener("click", useMyLocation);
      }
    }
    var filters = root.querySelector("#filters");
    if (filters && filtersOpen === null && window.matchMedia("(min-width: 60rem)").matches) {
      filters.open = true;
    }
    var map = root.querySelector("#results-map");
    if (map) drawMap(map);
  }

  /* ---------- "Use my location": the browser's position goes into hidden lat/lon fields. */
  function forgetBrowserLocation(form) {
    form.querySelectorAll("[data-browser-location]").forEach(function (el) { el.remove(); });
  }

  function hiddenField(form, name, value) {
    var field = document.createElement("input");
    field.type = "hidden";
    field.name = name;
    field.value = value;
    field.setAttribute("data-browser-location", "");
    form.appendChild(field);
  }

  function useMyLocation(event) {
    var button = event.currentTarget;
    var form = button.form;
    var place = document.getElementById(button.dataset.placeInput);
    var message = document.getElementById(button.dataset.messageId);
    function say(text) { if (message) message.textContent = text || ""; }
    say(button.dataset.locatingText);
    button.disabled = true;
    navigator.geolocation.getCurrentPosition(function (position) {
      button.disabled = false;
      say("");
      forgetBrowserLocation(form);
      place.value = "";
      hiddenField(form, button.dataset.latName, position.coords.latitude.toFixed(5));
      hiddenField(form, button.dataset.lonName, position.coords.longitude.toFixed(5));
      if (form.requestSubmit) form.requestSubmit(); else form.submit();
    }, function () {
      button.disabled = false;
      say(button.dataset.errorText);
      place.focus();
    }, { enableHighAccuracy: false, timeout: 15000, maximumAge: 300000 });
  }

  /* A place typed by hand replaces the browser's location. */
  document.addEventListener("input", function (event) {
    var target = event.target;
    if (target && target.id === "place" && target.form) forgetBrowserLocation(target.form);
  });

  /* ---------- The map: Leaflet is loaded only when someone asks for the map. */
  var leafletLoading = null;

  function loadLeaflet(el) {
    if (window.L) return Promise.resolve();
    if (leafletLoading) return leafletLoading;
    leafletLoading = new Promise(function (resolve, reject) {
      var css = document.createElement("link");
      css.rel = "stylesheet";
      css.href = el.dataset.leafletCss;
      document.head.appendChild(css);
      var script = document.createElement("script");
      script.src = el.dataset.leafletJs;
      script.onload = function () { resolve(); };
      script.onerror = reject;
      css.onload = function () { document.head.appendChild(script); };
      css.onerror = reject;
    });
    return leafletLoading;
  }

  function drawMap(el) {
    if (el.dataset.drawn) return;
    el.dataset.drawn = "1";
    var dataNode = document.getElementById(el.dataset.markers);
    var markers = dataNode ? JSON.parse(dataNode.textContent || "[]") : [];
    loadLeaflet(el).then(function () {
      if (!document.body.contains(el)) return;
      el.textContent = "";
      var map = window.L.map(el, { scrollWheelZoom: false });
      if (el.dataset.tileUrl) {
        window.L.tileLayer(el.dataset.tileUrl, {
          attribution: el.dataset.tileAttribution || "",
          maxZoom: 19
        }).addTo(map);
      }
      var layer = window.L.featureGroup();
      markers.forEach(function (m) {
        var link = document.createElement("a");
        link.href = m.url;
        link.textContent = m.name;
        window.L.marker([m.lat, m.lon], { title: m.name, alt: m.name })
          .bindPopup(link)
          .addTo(layer);
      });
      if (el.dataset.lat) {
        window.L.circleMarker([Number(el.dataset.lat), Number(el.dataset.lon)], {
          radius: 8, color: "#a4161a", weight: 3, fillOpacity: 0.6
        }).bindTooltip(el.dataset.placeLabel || "").addTo(layer);
      }
      layer.addTo(map);
      if (markers.length) {
        map.fitBounds(layer.getBounds(), { padding: [30, 30], maxZoom: 15 });
      } else if (el.dataset.lat) {
        map.setView([Number(el.dataset.lat), Number(el.dataset.lon)], 12);
      } else {
        map.setView([39.5, -98.35], 3);
      }
    }, function () {
      el.textContent = el.dataset.failedText || "";
    });
  }

  /* ---------- Shorter, shareable URLs: a GET leaves out the fields left empty. */
  document.addEventListener("htmx:configRequest", function (event) {
    if (event.detail.verb !== "get" || !event.detail.formData) return;
    var data = event.detail.formData;
    var names = {};
    data.forEach(function (value, name) {
      names[name] = names[name] || value !== "";
    });
    Object.keys(names).forEach(function (name) {
      if (!names[name]) data.delete(name);
    });
  });

  /* ---------- Keep the filter panel open or closed as the person left it, across htmx swaps. */
  var filtersOpen = null;
  document.addEventListener("htmx:beforeSwap", function () {
    var filters = document.getElementById("filters");
    if (filters) filtersOpen = filters.open;
  });
  document.addEventListener("htmx:afterSettle", function (event) {
    var filters = document.getElementById("filters");
    if (filters && filtersOpen !== null) filters.open = filtersOpen;
    enhance(event.target.isConnected ? event.target : document);
  });

  /* ---------- New referral: opening "Someone new" picks that choice, and picking it opens the form.
     Here and not in hx-on attributes: the Content-Security-Policy allows no inline script. */
  document.addEventListener("toggle", function (event) {
    var details = event.target;
    if (details.id !== "new-member" || !details.open) return;
    var radio = document.getElementById("member-new");
    if (radio && !radio.checked) {
      radio.checked = true;
      radio.dispatchEvent(new Event("change", { bubbles: true }));
    }
  }, true);
  document.addEventListener("change", function (event) {
    if (event.target.id !== "member-new") return;
    var details = document.getElementById("new-member");
    if (details) details.open = true;
  });

  onReady(function () { enhance(document); });
})();
