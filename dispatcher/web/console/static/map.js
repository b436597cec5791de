// Maps with the vendored Leaflet. Tiles are optional: with no tile server reachable (closed
// networks) the vector points still draw on a plain background, fitted to their bounds.
(function () {
  "use strict";
  const el = document.getElementById("map");
  const dataEl = document.getElementById("map-data");
  if (!el || !dataEl || !window.L) return;
  const data = JSON.parse(dataEl.textContent);
  const map = L.map(el, { zoomControl: true, attributionControl: true });
  if (el.dataset.tiles) {
    L.tileLayer(el.dataset.tiles, { maxZoom: 19, attribution: el.dataset.attribution || "" }).addTo(map);
  }
  const colours = { incident: "#ef4444", home: "#f472b6", ok: "#22c55e", late: "#f59e0b", assigned: "#38bdf8" };
  L.control.scale({ metric: true, imperial: false }).addTo(map);
  const bounds = [];
  (data.points || []).forEach(function (p) {
    const big = p.kind === "incident";
    const m = L.circleMarker([p.lat, p.lon], {
      radius: big ? 11 : 8, color: "#0d1420", weight: 2, fillColor: colours[p.kind] || "#94a3b8", fillOpacity: 0.95,
    }).addTo(map);
    m.bindTooltip(p.label, { permanent: big || p.kind === "assigned" || (p.rank && p.rank <= 3), direction: "right", className: "map-label" });
    bounds.push([p.lat, p.lon]);
    if (big) {  // 1 km ring: a sense of distance even when no tiles load
      L.circle([p.lat, p.lon], { radius: 1000, color: "#ef4444", weight: 1, dashArray: "4 4", fill: false }).addTo(map);
    }
  });
  const heat = data.heat || [];
  const top = Math.max.apply(null, [1].concat(heat.map(function (h) { return h.n; })));
  heat.forEach(function (h) {
    const k = h.n / top;  // colour and size by the cell's share of the busiest cell
    L.circle([h.lat, h.lon], {
      radius: 120 + 180 * k, stroke: false, fillOpacity: 0.25 + 0.55 * k,
      fillColor: k > 0.66 ? "#ef4444" : k > 0.33 ? "#f59e0b" : "#facc15",
    }).bindTooltip(String(h.n)).addTo(map);
    bounds.push([h.lat, h.lon]);
  });
  if (bounds.length > 1) map.fitBounds(bounds, { padding: [30, 30], maxZoom: 16 });
  else if (bounds.length === 1) map.setView(bounds[0], 15);
  else map.setView([23.37, 116.70], 12);
  window.HUYUAN = Object.assign(window.HUYUAN || {}, { map: map, mapPoints: bounds.length });
})();
