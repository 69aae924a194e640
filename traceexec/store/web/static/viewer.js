// traceexec viewer: the waterfall of one trace, drawn a screenful at a time.
// Every value from a span goes into the page as text (textContent), never as HTML.
(function () {
  "use strict";
  var source = document.getElementById("trace-data");
  if (!source) { return; }
  var data = JSON.parse(source.textContent);
  var rows = data.rows, services = data.services;
  var n = rows.depth.length, ROW = 22, MANY = 5000;
  var viewport = document.getElementById("viewport");
  var spacer = document.getElementById("spacer");
  var details = document.getElementById("details");
  var total = Math.max(data.total_ns, 1);

  // Rows come in tree order: a span's subtree is the run of deeper rows after it.
  var end = new Int32Array(n), parent = new Int32Array(n), stack = [], i;
  for (i = 0; i < n; i++) {
    while (stack.length && rows.depth[stack[stack.length - 1]] >= rows.depth[i]) {
      end[stack.pop()] = i;
    }
    parent[i] = stack.length ? stack[stack.length - 1] : -1;
    stack.push(i);
  }
  while (stack.length) { end[stack.pop()] = n; }
  var collapsed = new Uint8Array(n);
  if (n > MANY) {  // a huge trace opens folded below its top level
    for (i = 0; i < n; i++) { if (rows.depth[i] >= 1 && end[i] > i + 1) { collapsed[i] = 1; } }
  }
  var visible = [], selected = -1, onlyCritical = false, byId = null;

  function duration(ns) {
    if (ns < 1e6) { return Math.round(ns / 1e3) + "\u00b5s"; }
    if (ns < 1e7) { return (ns / 1e6).toFixed(1) + "ms"; }
    if (ns < 1e9) { return Math.round(ns / 1e6) + "ms"; }
    var s = ns / 1e9;
    if (s < 60) { return s.toFixed(2) + "s"; }
    if (s < 3600) { return Math.floor(s / 60) + "m" + ("0" + Math.floor(s % 60)).slice(-2) + "s"; }
    return Math.floor(s / 3600) + "h" + ("0" + Math.floor((s % 3600) / 60)).slice(-2) + "m";
  }

  function recompute() {
    visible = [];
    var k = 0;
    while (k < n) {
      if (!onlyCritical || rows.flags[k] & 1) { visible.push(k); }
      k = (collapsed[k] && !onlyCritical) ? end[k] : k + 1;
    }
    spacer.style.height = (visible.length * ROW) + "px";
    draw();
  }

  function text(tagName, className, value) {
    var el = document.createElement(tagName);
    if (className) { el.className = className; }
    if (value !== undefined) { el.textContent = value; }
    return el;
  }

  function makeRow(index, position) {
    var flags = rows.flags[index];
    var row = text("div", "row" + (flags & 1 ? " critical" : "") + (flags & 2 ? " error" : "") +
                   (index === selected ? " selected" : ""));
    row.style.top = (position * ROW) + "px";
    row.dataset.i = index;
    var label = text("span", "label");
    label.style.paddingLeft = (Math.min(rows.depth[index], 60) * 14) + "px";
    var fold = text("button", "fold" + (end[index] > index + 1 ? "" : " none"),
                    collapsed[index] ? "\u25b8" : "\u25be");
    fold.type = "button";
    fold.title = collapsed[index] ? "unfold" : "fold";
    label.appendChild(fold);
    label.appendChild(text("span", "name", rows.name[index]));
    label.appendChild(text("span", "svc", services[rows.service[index]]));
    row.appendChild(label);
    var lane = text("span", "lane");
    var left = Math.min(100, Math.max(0, rows.start[index] / total * 100));
    var width = Math.min(100 - left, Math.max(0.15, rows.dur[index] / total * 100));
    var bar = text("span", "bar");
    bar.style.left = left + "%";
    bar.style.width = width + "%";
    lane.appendChild(bar);
    var label2 = text("span", "dur", duration(rows.dur[index]) +
                      (rows.exit[index] !== "" ? "  exit " + rows.exit[index] : ""));
    if (left + width < 80) { label2.style.left = "calc(" + (left + width) + "% + 4px)"; }
    else { label2.style.right = "calc(" + (100 - left) + "% + 4px)"; }
    lane.appendChild(label2);
    row.appendChild(lane);
    row.title = rows.name[index] + "  " + duration(rows.dur[index]);
    return row;
  }

  function draw() {
    var top = viewport.scrollTop, height = viewport.clientHeight || 600;
    var first = Math.max(0, Math.floor(top / ROW) - 10);
    var last = Math.min(visible.length, Math.ceil((top + height) / ROW) + 10);
    var fragment = document.createDocumentFragment();
    for (var k = first; k < last; k++) { fragment.appendChild(makeRow(visible[k], k)); }
    spacer.replaceChildren(fragment);
  }

  function table(pairs) {
    var t = document.createElement("table");
    pairs.forEach(function (pair) {
      var tr = document.createElement("tr");
      tr.appendChild(text("td", "key", pair[0]));
      var cell = text("td", "value");
      if (pair[1] instanceof Node) { cell.appendChild(pair[1]); } else { cell.textContent = pair[1]; }
      tr.appendChild(cell);
      t.appendChild(tr);
    });
    return t;
  }

  function indexOfSpan(spanId) {
    if (!byId) {
      byId = new Map();
      for (var k = 0; k < n; k++) { byId.set(rows.id[k], k); }
    }
    return byId.has(spanId) ? byId.get(spanId) : -1;
  }

  function showDetails(d, index) {
    details.replaceChildren();
    details.appendChild(text("h2", "", d.name));
    var status = text("span", "status-" + d.status, d.status +
                      (d.status_message ? ": " + d.status_message : ""));
    details.appendChild(table([["status", status], ["duration", duration(d.duration_ns)],
                               ["start", "+" + duration(d.start_offset_ns) + "  (" + d.start + ")"],
                               ["service", d.service], ["kind", d.kind], ["span id", d.span_id],
                               ["parent id", d.parent_id || "(root)"], ["scope", d.scope]]));
    if ((rows.flags[index] & 1) === 1) {
      details.appendChild(text("p", "critical-legend", "on the critical path"));
    }
    details.appendChild(text("h3", "", "attributes (" + d.attributes.length + ")"));
    details.appendChild(table(d.attributes));
    if (d.events.length) {
      details.appendChild(text("h3", "", "events (" + d.events.length + ")"));
      d.events.forEach(function (event) {
        details.appendChild(text("p", "", "+" + duration(event[1]) + "  " + event[0]));
        if (event[2].length) { details.appendChild(table(event[2])); }
      });
    }
    if (d.links.length) {
      details.appendChild(text("h3", "", "links (" + d.links.length + ")"));
      d.links.forEach(function (link) {
        var target = link[0] === data.trace_id ? indexOfSpan(link[1]) : -1;
        var what = target >= 0 ? rows.name[target] : link[0] + " / " + link[1];
        var anchor = text(target >= 0 ? "a" : "span", "", what);
        if (target >= 0) {
          anchor.href = "#";
          anchor.addEventListener("click", function (e) { e.preventDefault(); reveal(target); });
        }
        details.appendChild(table([["span", anchor]].concat(link[2])));
      });
    }
    details.appendChild(text("h3", "", "resource"));
    details.appendChild(table(d.resource));
  }

  function select(index) {
    selected = index;
    draw();
    if (data.details) { showDetails(data.details[index], index); return; }
    details.replaceChildren(text("p", "muted", "loading\u2026"));
    fetch(data.detail_url + encodeURIComponent(rows.id[index]))
      .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.json(); })
      .then(function (d) { if (selected === index) { showDetails(d, index); } })
      .catch(function (e) { details.replaceChildren(text("p", "err", "details: " + e.message)); });
  }

  function reveal(index) {
    for (var p = parent[index]; p >= 0; p = parent[p]) { collapsed[p] = 0; }
    if (onlyCritical && !(rows.flags[index] & 1)) {
      onlyCritical = false;
      document.getElementById("only-critical").checked = false;
    }
    recompute();
    var position = visible.indexOf(index);
    viewport.scrollTop = Math.max(0, position * ROW - viewport.clientHeight / 2);
    select(index);
  }

  spacer.addEventListener("click", function (event) {
    var row = event.target.closest(".row");
    if (!row) { return; }
    var index = Number(row.dataset.i);
    if (event.target.classList.contains("fold")) {
      if (end[index] > index + 1) { collapsed[index] = collapsed[index] ? 0 : 1; recompute(); }
      return;
    }
    select(index);
  });
  viewport.addEventListener("scroll", function () { window.requestAnimationFrame(draw); });
  window.addEventListener("resize", draw);
  document.getElementById("expand").addEventListener("click", function () {
    collapsed.fill(0); recompute();
  });
  document.getElementById("collapse").addEventListener("click", function () {
    for (var k = 0; k < n; k++) { collapsed[k] = rows.depth[k] >= 1 && end[k] > k + 1 ? 1 : 0; }
    recompute();
  });
  document.getElementById("next-error").addEventListener("click", function () {
    for (var step = 1; step <= n; step++) {
      var k = (selected + step + n) % n;
      if (rows.flags[k] & 2) { reveal(k); return; }
    }
  });
  document.getElementById("only-critical").addEventListener("change", function (event) {
    onlyCritical = event.target.checked; recompute();
  });
  recompute();
  if (n) { select(0); }
}());
