// traceexec viewer: the waterfall of one trace, drawn a screenful at a time.
// Every value from a span goes into the page as text (textContent), never as HTML.
(function () {
  "use strict";
  var source = document.getElementById("trace-data");
  if (!source) { return; }
  var data = JSON.parse(source.textContent);
  var rows, services = data.services, n, end, parent, collapsed;
  var ROW = 22, MANY = 5000, folded = (data.count || data.rows.depth.length) > MANY;
  // a huge trace's page carries its first screen only (rows.index: each row's place among
  // all rows; rows.more: children not carried); every row comes from data.rows_url
  var partial = Boolean(data.rows_url), waiting = [];
  var viewport = document.getElementById("viewport");
  var spacer = document.getElementById("spacer");
  var details = document.getElementById("details");
  var total = Math.max(data.total_ns, 1);

  // Rows come in tree order: a span's subtree is the run of deeper rows after it.
  function setRows(newRows) {
    rows = newRows; n = rows.depth.length;
    end = new Int32Array(n); parent = new Int32Array(n); collapsed = new Uint8Array(n);
    var stack = [], i;
    for (i = 0; i < n; i++) {
      while (stack.length && rows.depth[stack[stack.length - 1]] >= rows.depth[i]) {
        end[stack.pop()] = i;
      }
      parent[i] = stack.length ? stack[stack.length - 1] : -1;
      stack.push(i);
    }
    while (stack.length) { end[stack.pop()] = n; }
    if (folded) {  // a huge trace opens folded below its top level
      for (i = 0; i < n; i++) { if (rows.depth[i] >= 1 && hasKids(i)) { collapsed[i] = 1; } }
    }
    byId = null;
  }

  function hasKids(index) { return end[index] > index + 1 || Boolean(rows.more && rows.more[index]); }

  // run `action` once every row is here (at once when the page carries them all)
  function whenWhole(action) {
    return function () {
      var args = arguments;
      if (!partial) { return action.apply(this, args); }
      waiting.push(function () { action.apply(null, args); });
    };
  }
  var visible = [], selected = -1, onlyCritical = false, byId = null;
  setRows(data.rows);
  // the time window shown (zoom), as offsets from the trace's start
  var z0 = 0, z1 = total;
  var PALETTE = ["#4c6ef5", "#12b886", "#ae3ec9", "#f59f00", "#15aabf", "#e64980",
                 "#82c91e", "#7048e8", "#fd7e14", "#868e96"];
  var ticksBox = document.querySelector(".axis .ticks");
  var zoomButton = document.getElementById("zoom"), unzoomButton = document.getElementById("unzoom");

  function colour(service) { return PALETTE[service % PALETTE.length]; }

  function pct(ns) { return (ns - z0) / Math.max(z1 - z0, 1) * 100; }

  // a step of 1, 2 or 5 times a power of ten giving about `count` ticks over `span` ns
  function niceStep(span, count) {
    var raw = Math.max(span / count, 1), power = Math.pow(10, Math.floor(Math.log10(raw)));
    var steps = [1, 2, 5, 10];
    for (var k = 0; k < steps.length; k++) { if (steps[k] * power >= raw) { return steps[k] * power; } }
    return 10 * power;
  }

  function ticks() {
    var step = niceStep(z1 - z0, 8), first = Math.ceil(z0 / step) * step, list = [];
    for (var t = first; t <= z1 + 1e-6; t += step) { list.push(t); }
    return list;
  }

  function drawAxis() {
    if (!ticksBox) { return; }
    var fragment = document.createDocumentFragment();
    ticks().forEach(function (t) {
      var label = text("span", "tick", t === 0 ? "0" : duration(t));
      label.style.left = pct(t) + "%";
      fragment.appendChild(label);
    });
    ticksBox.replaceChildren(fragment);
    if (zoomButton) { zoomButton.disabled = selected < 0; }
    if (unzoomButton) { unzoomButton.disabled = z0 === 0 && z1 === total; }
  }

  function zoomTo(from, to) {
    from = Math.max(0, from); to = Math.min(total, to);
    if (to - from < 1000) { from = Math.max(0, from - 500); to = Math.min(total, from + 1000); }
    z0 = from; z1 = to;
    drawAxis(); draw();
  }

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
    var state = rows.state[index];
    var row = text("div", "row" + (flags & 1 ? " critical" : "") + (flags & 2 ? " error" : "") +
                   (state === 1 ? " running" : state === 2 ? " gone" : "") +
                   (index === selected ? " selected" : ""));
    row.style.top = (position * ROW) + "px";
    row.dataset.i = index;
    var label = text("span", "label");
    label.style.paddingLeft = (Math.min(rows.depth[index], 60) * 14) + "px";
    var fold = text("button", "fold" + (hasKids(index) ? "" : " none"),
                    collapsed[index] ? "\u25b8" : "\u25be");
    fold.type = "button";
    fold.title = collapsed[index] ? "unfold" : "fold";
    label.appendChild(fold);
    label.appendChild(text("span", "name", rows.name[index]));
    label.appendChild(text("span", "svc", services[rows.service[index]]));
    row.appendChild(label);
    if (rows.cmd[index]) { label.appendChild(text("span", "cmd", rows.cmd[index])); }
    var lane = text("span", "lane");
    var startPct = pct(rows.start[index]), endPct = pct(rows.start[index] + rows.dur[index]);
    var left = Math.min(100, Math.max(0, startPct));
    var width = Math.min(100 - left, Math.max(0.15, Math.min(endPct, 100) - left));
    var bar = text("span", "bar");
    bar.style.left = left + "%";
    bar.style.width = width + "%";
    if (!(flags & 2)) { bar.style.background = colour(rows.service[index]); }
    if (endPct < 0 || startPct > 100) { bar.style.visibility = "hidden"; }
    lane.appendChild(bar);
    if (rows.slack[index] > 0 && !(flags & 1)) {
      var slack = text("span", "slack");
      var slackLeft = Math.max(0, Math.min(100, endPct));
      slack.style.left = slackLeft + "%";
      slack.style.width = Math.max(0, Math.min(100, pct(rows.start[index] + rows.dur[index] +
                                                      rows.slack[index])) - slackLeft) + "%";
      slack.title = "slack " + duration(rows.slack[index]);
      lane.appendChild(slack);
    }
    var label2 = text("span", "dur", (state === 1 ? "running " : "") +
                      (state === 2 ? "no end (its process is gone)" : duration(rows.dur[index])) +
                      (rows.exit[index] !== "" ? "  exit " + rows.exit[index] : "") +
                      (rows.drag[index] > 0 ? "  drag " + duration(rows.drag[index]) : ""));
    if (left + width < 80) { label2.style.left = "calc(" + (left + width) + "% + 4px)"; }
    else if (left > 35) { label2.style.right = "calc(" + (100 - left) + "% + 4px)"; }
    else { label2.style.left = "calc(" + left + "% + 4px)"; label2.className += " inside"; }
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
    ticks().forEach(function (t) {  // the time grid, under the rows
      var line = text("span", "gridline");
      line.style.left = "calc(38% + " + (pct(t) * 0.62) + "%)";
      line.style.top = (first * ROW) + "px";
      line.style.height = ((last - first) * ROW) + "px";
      fragment.appendChild(line);
    });
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
    var facts = [["status", status], ["duration", duration(d.duration_ns)],
                 ["start", "+" + duration(d.start_offset_ns) + "  (" + d.start + ")"]];
    if (rows.slack[index] >= 0) { facts.push(["slack", duration(rows.slack[index])]); }
    if (rows.drag[index] > 0) { facts.push(["drag", duration(rows.drag[index])]); }
    var svc = text("span", "svc-name", d.service);
    svc.style.borderLeftColor = colour(rows.service[index]);
    details.appendChild(table(facts.concat([["service", svc], ["kind", d.kind],
                                            ["span id", d.span_id],
                                            ["parent id", d.parent_id || "(root)"],
                                            ["scope", d.scope]])));
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
    drawAxis();
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
      if (end[index] > index + 1 && !(rows.more && rows.more[index])) {
        collapsed[index] = collapsed[index] ? 0 : 1; recompute();
      } else if (hasKids(index)) {
        unfoldLater(rows.index[index]);
      }
      return;
    }
    select(index);
  });
  viewport.addEventListener("scroll", function () { window.requestAnimationFrame(draw); });
  window.addEventListener("resize", draw);
  var unfoldLater = whenWhole(function (index) {
    collapsed[index] = collapsed[index] ? 0 : 1; recompute();
  });
  document.getElementById("expand").addEventListener("click", whenWhole(function () {
    collapsed.fill(0); recompute();
  }));
  document.getElementById("collapse").addEventListener("click", function () {
    for (var k = 0; k < n; k++) { collapsed[k] = rows.depth[k] >= 1 && hasKids(k) ? 1 : 0; }
    recompute();
  });
  document.getElementById("next-error").addEventListener("click", whenWhole(function () {
    for (var step = 1; step <= n; step++) {
      var k = (selected + step + n) % n;
      if (rows.flags[k] & 2) { reveal(k); return; }
    }
  }));
  document.getElementById("only-critical").addEventListener("change", whenWhole(function () {
    onlyCritical = document.getElementById("only-critical").checked; recompute();
  }));
  if (zoomButton) {
    zoomButton.addEventListener("click", function () {
      if (selected >= 0) {
        var pad = rows.dur[selected] / 20;
        zoomTo(rows.start[selected] - pad, rows.start[selected] + rows.dur[selected] + pad);
      }
    });
    unzoomButton.addEventListener("click", function () { zoomTo(0, total); });
  }
  spacer.addEventListener("dblclick", function (event) {  // a span's range, zoomed to
    var row = event.target.closest(".row");
    if (!row) { return; }
    var index = Number(row.dataset.i);
    select(index);
    zoomButton.click();
  });
  // drag across the time axis to zoom to that range
  var axisLane = ticksBox, dragFrom = null, band = null;
  function axisTime(event) {
    var box = axisLane.getBoundingClientRect();
    var f = Math.min(1, Math.max(0, (event.clientX - box.left) / Math.max(box.width, 1)));
    return z0 + f * (z1 - z0);
  }
  if (axisLane) {
    axisLane.addEventListener("mousedown", function (event) {
      dragFrom = axisTime(event);
      band = text("span", "band"); axisLane.appendChild(band);
      event.preventDefault();
    });
    window.addEventListener("mousemove", function (event) {
      if (dragFrom === null) { return; }
      var now = axisTime(event);
      band.style.left = pct(Math.min(dragFrom, now)) + "%";
      band.style.width = Math.abs(pct(now) - pct(dragFrom)) + "%";
    });
    window.addEventListener("mouseup", function (event) {
      if (dragFrom === null) { return; }
      var now = axisTime(event), from = dragFrom;
      dragFrom = null;
      if (band) { band.remove(); band = null; }
      if (Math.abs(now - from) > (z1 - z0) / 200) { zoomTo(Math.min(from, now), Math.max(from, now)); }
    });
  }
  drawAxis();
  // still running: reload every 2 s, keeping the scroll position, the selection and zoom
  var KEY = "traceexec-view-" + data.trace_id;
  try {
    var kept = JSON.parse(window.sessionStorage.getItem(KEY) || "null");
    if (kept) {
      window.sessionStorage.removeItem(KEY);
      if (kept.z1 > kept.z0) { zoomTo(kept.z0, kept.z1); }
      window.setTimeout(whenWhole(function () {  // once the rows are in
        viewport.scrollTop = kept.top;
        var again = indexOfSpan(kept.span);
        if (again >= 0) { select(again); }
      }), 0);
    }
  } catch (e) { /* no storage (a file: page): start afresh */ }
  if (data.running && document.getElementById("live")) {
    window.setTimeout(function () {
      try {
        window.sessionStorage.setItem(KEY, JSON.stringify({
          top: viewport.scrollTop, z0: z0, z1: z1, span: selected >= 0 ? rows.id[selected] : ""}));
      } catch (e) { /* reload anyway */ }
      window.location.reload();
    }, 2000);
  }
  recompute();
  if (n) { select(0); }
  if (partial) {  // the first screen is drawn: now every row, then what waited for them
    fetch(data.rows_url)
      .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.json(); })
      .then(function (whole) {
        var carried = rows, was = collapsed, k;
        var chosen = selected >= 0 ? carried.index[selected] : -1;
        setRows(whole.rows);
        for (k = 0; k < carried.index.length; k++) {  // what was unfolded stays so
          if (!was[k]) { collapsed[carried.index[k]] = 0; }
        }
        partial = false;
        selected = chosen;
        recompute();
        drawAxis();
        waiting.splice(0).forEach(function (action) { action(); });
      })
      .catch(function (e) {
        details.appendChild(text("p", "err", "rows: " + e.message));
      });
  }
}());
