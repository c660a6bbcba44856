// bearing-edge status page: polls the JSON API of `bearing-agent web` and draws the state, the error
// timeline and the channel trends as SVG. No library, nothing fetched from elsewhere.
//
// Everything that came from the stream or the journal (device ids, channel names, event details) is put
// into the page with textContent or as an SVG <title>'s text, never as HTML: it is shown, never executed.
"use strict";

const STATUS_EVERY_MS = 2000;
const TIMELINE_EVERY_MS = 15000;
const SVG = "http://www.w3.org/2000/svg";

let range = "24h";
let lastStatus = null;
let lastTimeline = null;
let lastTimelineAt = 0;
let lastSnapshotTime = null;

// -- small helpers ----------------------------------------------------------------------------------

function $(id) { return document.getElementById(id); }

function text(id, value) { $(id).textContent = value == null ? "" : String(value); }

function fmtTime(t) {
  if (t == null) return "-";
  return new Date(t * 1000).toISOString().replace("T", " ").slice(0, 19) + " UTC";
}

function fmtNum(v, digits = 4) {
  if (v == null) return "-";
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(2);
  return Number(v.toPrecision(digits)).toString();
}

function fmtAge(s) {
  if (s == null) return "an unknown time (written in another boot, or the clock changed since)";
  if (s < 90) return `${Math.round(s)} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${(s / 3600).toFixed(1)} h`;
  return `${(s / 86400).toFixed(1)} days`;
}

function el(tag, cls, content) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (content != null) e.textContent = String(content);
  return e;
}

function svgEl(tag, attrs, parent) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  if (parent) parent.appendChild(e);
  return e;
}

async function getJSON(url) {
  // 503: the server is answering its few long queries at once (another tab, a script); try again shortly.
  for (let attempt = 1; ; attempt++) {
    const r = await fetch(url, { credentials: "same-origin", cache: "no-store" });
    if (r.status === 503 && attempt < 4) {
      await new Promise((done) => setTimeout(done, 1000 * attempt));
      continue;
    }
    if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
    return r.json();
  }
}

// -- the status ----------------------------------------------------------------------------------

// The running bundle's slot and the last bearing-agent deploy: on probation with its progress, else how it ended
// (committed, rolled back, rejected). The same facts as status and the MQTT state.
function deployFacts(f) {
  const d = f.deploy;
  const slot = f.slot ? `bundle slot ${f.slot}` : "";
  if (!d) return [slot];
  const p = d.probation;
  if (p) {
    const hours = p.hours_needed ? `, ${p.hours.toFixed(2)} of ${p.hours_needed} h` : "";
    return [slot, `new bundle on probation: ${p.running_snapshots} of ${p.snapshots_needed} snapshots${hours}`];
  }
  const what = d.deployed_bundle_id ? `deploy of ${d.deployed_bundle_id}` : "deploy";
  const phase = { rolled_back: "rolled back", restoring: "being rolled back by hand" }[d.phase] || d.phase;
  const when = d.since != null ? ` (asked ${fmtTime(d.since)})` : "";
  return [slot, `${what} ${phase}${when}`];
}

function showStatus(s) {
  lastStatus = s;
  $("unreachable").hidden = true;
  if (!s.journal.ok) {
    $("content").hidden = true;
    $("missing").hidden = false;
    text("missing-problem", s.journal.problem);
    text("missing-hint", s.journal.hint);
    setPill("pill-unknown", "no journal");
    return;
  }
  $("missing").hidden = true;
  $("content").hidden = false;
  text("journal-path", `journal ${s.journal.path}`);

  const st = s.state;
  const card = $("state-card");
  card.className = `state state-${st.display}`;
  card.dataset.state = st.display;
  card.dataset.latched = String(st.latched);
  let word = st.word;
  const f = st.facts || {};
  const lvl = f.alarm_level ? ` · ${f.alarm_level.toUpperCase()}` : "";
  if (st.display === "alarm") word = (st.acknowledged ? "ALARM (acknowledged)" : "ALARM") + lvl;
  else word = word.toUpperCase();
  text("state-word", word);
  let since = "";
  if (st.display === "alarm" && st.since != null) since = `latched since ${fmtTime(st.since)}`;
  if (st.display === "fault" && st.since_clock != null) since = `since ${fmtTime(st.since_clock)}`;
  text("state-since", since);
  text("state-detail", st.detail);
  // Machine state and level, and a sensor fault as a line of its own: an alarm never hides a fault (issue 20 #7).
  const machine = f.machine_state ? `machine ${f.machine_state.replace("_", " ")}` : "";
  const level = f.level ? `level ${f.level}` : "";
  const rb = f.rebaseline ? `re-baseline in progress (by ${f.rebaseline.by}: ${f.rebaseline.reason})` : "";
  const bc = f.baseline_change && f.baseline_change.since_commissioning;
  const moved = bc ? `${bc.feature} ${bc.db >= 0 ? "+" : ""}${bc.db.toFixed(1)} dB since commissioning` : "";
  text("state-facts", [machine, level, moved, rb, ...deployFacts(f)].filter(Boolean).join(" · "));
  const fl = $("fault-line");
  fl.hidden = !(f.fault && st.display !== "fault");
  fl.textContent = fl.hidden ? "" : `Sensor fault: ${f.fault}`;

  const last = s.last;
  const le = $("last-error");
  if (last && last.error != null) {
    const ratio = last.ratio != null ? ` (${last.ratio.toFixed(2)} × the threshold)` : "";
    le.textContent = `Last error ${fmtNum(last.error)} vs threshold ${fmtNum(last.threshold)}${ratio}, ` +
      `snapshot of ${fmtTime(last.time)}`;
    le.dataset.error = String(last.error);
  } else {
    le.textContent = last ? `Last snapshot ${fmtTime(last.time)} (not scored: ${last.state})` : "";
    delete le.dataset.error;
  }

  // Which bearing, which defect: the newest snapshot over the threshold (issue 14), when the journal has one.
  const dg = $("diagnosis");
  const d = st.diagnosis;
  dg.hidden = !d;
  if (d) {
    // the autoencoder's "which channel": where its error is, labelled as such (the physics diagnosis has its card)
    dg.textContent = d.current ? `Diagnosis (autoencoder: where its error is): ${d.text}`
      : `Last diagnosis (autoencoder: where its error is): ${d.text}, snapshot of ${fmtTime(d.time)}`;
    dg.dataset.current = String(d.current);
  } else {
    dg.textContent = "";
  }

  const a = s.agent;
  const note = $("stopped-note");
  if (a.running) {
    setPill("pill-running", `agent running · heartbeat ${fmtAge(a.heartbeat_age_s)} ago`);
    note.hidden = true;
  } else {
    const why = !a.ever_started ? "the agent has never run with this journal"
      : a.stopped_cleanly ? `the agent was stopped ${fmtAge(a.heartbeat_age_s)} ago`
      : `the agent is not running (no heartbeat for ${fmtAge(a.heartbeat_age_s)})`;
    setPill("pill-stopped", a.ever_started ? "agent NOT running" : "agent never started");
    note.hidden = false;
    note.textContent = `${why[0].toUpperCase()}${why.slice(1)}: this is the journal as it was left; ` +
      "nothing is being watched. Start it: sudo systemctl start bearing-agent";
  }
  const ackButton = $("ack");
  ackButton.hidden = !(st.latched && !st.acknowledged);

  text("bundle", s.bundle.id || "none (learning mode or not started)");
  text("bundle-loaded", s.bundle.loaded != null ? fmtTime(s.bundle.loaded) : "-");
  text("device", s.stream.device_id || "-");
  text("stream", s.stream.sample_rate_hz
    ? `${s.stream.sample_rate_hz.toLocaleString("en")} Hz, ${s.stream.channels.length} channels: ${s.stream.channels.join(", ")}`
    : "-");
  text("agent-detail", a.ever_started
    ? `pid ${a.pid}, ${a.mode} mode, port ${a.port} (${a.connected ? "connected" : "not connected"}), since ${fmtTime(a.started)}`
    : "-");
  text("debounce", s.debounce_text);
  text("driver", s.channels.text);
  showEvents(s.events);
  showCounters(s.counters);
  showVibration(f);

  const newest = last ? last.time : null;
  if (newest !== lastSnapshotTime && Date.now() - lastTimelineAt > 5000) {
    lastSnapshotTime = newest;
    loadTimeline();
  }
}

function setPill(cls, label) {
  const p = $("agent-pill");
  p.className = `pill ${cls}`;
  p.textContent = label;
}

function showEvents(events) {
  const list = $("events");
  list.replaceChildren();
  for (const e of events.slice().reverse()) {
    const li = el("li");
    li.appendChild(el("span", "when", fmtTime(e.time)));
    li.appendChild(el("span", "kind", e.kind.replaceAll("_", " ")));
    if (e.help) li.appendChild(el("span", "help", e.help));
    if (e.detail) li.appendChild(el("span", "detail", e.detail));
    list.appendChild(li);
  }
  if (!events.length) list.appendChild(el("li", null, "no events yet"));
}

// Always shown; any other counter only once it is not zero (the rest are one click away).
const KEY_COUNTERS = ["frames_ok", "bad_checks", "frames_missing", "missing_samples", "reconnects", "disconnects",
  "snapshots_scored", "snapshots_discarded_gap"];

function showCounters(counters) {
  const body = $("counters").tBodies[0];
  body.replaceChildren();
  const shown = counters.filter((c) => $("all-counters").open || c.value !== 0 || KEY_COUNTERS.includes(c.name));
  text("all-counters-label", $("all-counters").open ? `all ${counters.length} counters shown (click to hide those at zero)`
    : `show all ${counters.length} counters (${counters.length - shown.length} more at zero)`);
  for (const c of shown) {
    const tr = el("tr");
    tr.appendChild(el("td", "value", c.value.toLocaleString("en")));
    tr.appendChild(el("td", "help", c.help || c.name.replaceAll("_", " ")));
    tr.appendChild(el("td", "name", c.name));
    body.appendChild(tr);
  }
}

// -- the timeline ----------------------------------------------------------------------------------

async function loadTimeline() {
  lastTimelineAt = Date.now();
  try {
    const width = Math.max(300, Math.min(2000, $("chart-error").clientWidth || 600));
    showTimeline(await getJSON(`/api/timeline?range=${range}&points=${Math.round(width / 2)}`));
  } catch (err) {
    text("timeline-summary", `timeline not available: ${err.message}`);
  }
}

function showTimeline(tl) {
  lastTimeline = tl;
  for (const b of document.querySelectorAll(".ranges button")) b.classList.toggle("active", b.dataset.range === tl.range);
  drawErrorChart(tl);
  drawChannels(tl);
  const n = tl.alarm_periods.length;
  const span = tl.start != null ? `${fmtTime(tl.start)} to ${fmtTime(tl.end)}` : "no snapshots yet";
  text("timeline-summary", `${span}: ${tl.rows.toLocaleString("en")} snapshots, ` +
    `${n} alarm period${n === 1 ? "" : "s"} shaded, ${tl.events.length} events marked. ` +
    "Ranges end at the newest snapshot.");
}

function scaleFor(values, forceLog) {
  const pos = values.filter((v) => v != null && v > 0);
  if (!pos.length) return { log: false, lo: 0, hi: 1 };
  let lo = Math.min(...pos), hi = Math.max(...pos);
  const log = forceLog || hi / lo > 20;
  if (log) return { log, lo: lo / 1.3, hi: hi * 1.3 };
  return { log, lo: 0, hi: hi * 1.1 || 1 };
}

function yMap(scale, top, h) {
  const f = scale.log ? (v) => Math.log10(Math.max(v, scale.lo)) : (v) => v;
  const a = f(scale.lo), b = f(scale.hi);
  return (v) => top + h - ((f(v) - a) / (b - a || 1)) * h;
}

function ticks(scale, n = 4) {
  if (scale.log) {
    const out = [];
    for (let e = Math.floor(Math.log10(scale.lo)); e <= Math.ceil(Math.log10(scale.hi)); e++) {
      const v = 10 ** e;
      if (v >= scale.lo && v <= scale.hi) out.push(v);
    }
    return out.length >= 2 ? out : [scale.lo, scale.hi];
  }
  const step = (scale.hi - scale.lo) / n;
  return Array.from({ length: n + 1 }, (_, i) => scale.lo + i * step);
}

function drawAxes(svg, x0, x1, top, h, y, scale, tl, width, nTicks = 4) {
  for (const v of ticks(scale, nTicks)) {
    const yy = y(v);
    svgEl("line", { class: "grid", x1: x0, x2: x1, y1: yy, y2: yy }, svg);
    svgEl("text", { x: x0 - 6, y: yy + 4, "text-anchor": "end" }, svg).textContent = fmtNum(v, 2);
  }
  const n = width < 500 ? 2 : 4;
  for (let i = 0; i <= n; i++) {
    const t = tl.start + ((tl.end - tl.start) * i) / n;
    const label = width < 700 ? fmtTime(t).slice(5, 16) : fmtTime(t).slice(0, 16);  // narrow: no year
    svgEl("text", { x: x0 + ((x1 - x0) * i) / n, y: top + h + 16,
      "text-anchor": i === 0 ? "start" : i === n ? "end" : "middle" }, svg).textContent = label;
  }
}

function drawErrorChart(tl) {
  const box = $("chart-error");
  box.replaceChildren();
  const width = Math.max(300, box.clientWidth || 600);
  const height = width < 500 ? 230 : 280;
  const left = 56, right = 10, top = 14, bottom = 26;
  const svg = svgEl("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img",
    "aria-label": "reconstruction error over time with the threshold" });
  svg.dataset.alarmPeriods = String(tl.alarm_periods.length);
  box.appendChild(svg);
  const scored = tl.buckets.filter((b) => b.error_max != null);
  if (!scored.length) {
    svgEl("text", { x: width / 2, y: height / 2, "text-anchor": "middle" }, svg).textContent =
      tl.buckets.length ? "no scored snapshots in this range (learning mode or filling the history)" : "no snapshots yet";
    return;
  }
  const x0 = left, x1 = width - right, h = height - top - bottom;
  const span = tl.end - tl.start || 1;
  const x = (t) => x0 + ((t - tl.start) / span) * (x1 - x0);
  const scale = scaleFor(scored.flatMap((b) => [b.error_max, b.error_min, b.threshold]));
  const y = yMap(scale, top, h);
  for (const p of tl.alarm_periods) {
    const a = x(p.start), b = Math.max(x(p.end), a + 3);
    const r = svgEl("rect", { class: "alarm-period", x: a, y: top, width: b - a, height: h }, svg);
    svgEl("title", {}, r).textContent = `alarm latched ${fmtTime(p.start)} to ${fmtTime(p.end)}`;
  }
  drawAxes(svg, x0, x1, top, h, y, scale, tl, width);
  const mid = (b) => (b.t0 + b.t1) / 2;
  svgEl("polyline", { class: "error-line",
    points: scored.map((b) => `${x(mid(b)).toFixed(1)},${y(b.error_max).toFixed(1)}`).join(" ") }, svg);
  const thr = scored.filter((b) => b.threshold != null);
  if (thr.length) {
    const pts = [];
    thr.forEach((b, i) => {
      const xa = i === 0 ? x(b.t0) : x(mid(thr[i - 1])), xb = i === thr.length - 1 ? x(b.t1) : x(mid(b));
      pts.push(`${xa.toFixed(1)},${y(b.threshold).toFixed(1)}`, `${Math.max(xa, xb).toFixed(1)},${y(b.threshold).toFixed(1)}`);
    });
    svgEl("polyline", { class: "threshold-line", points: pts.join(" ") }, svg);
  }
  for (const e of tl.events) {
    const ex = x(e.at);
    const m = svgEl("path", { class: "event-mark", d: `M${ex - 5},${top - 2} L${ex + 5},${top - 2} L${ex},${top + 7} Z` }, svg);
    svgEl("title", {}, m).textContent = `${fmtTime(e.time)} ${e.kind.replaceAll("_", " ")}: ${e.detail}`;
  }
}

function drawChannels(tl) {
  const box = $("chart-channels");
  box.replaceChildren();
  const channels = (lastStatus && lastStatus.channels.channels) || [];
  const units = (lastStatus && lastStatus.channels.units) || "recorded units";
  const driver = lastStatus && lastStatus.channels.driver;
  tl.channel_names.forEach((name, i) => {
    const info = channels.find((c) => c.name === name) || {};
    const wrap = el("div", name === driver ? "channel driver" : "channel");
    const head = el("div", "channel-head");
    head.appendChild(el("span", null, `${name}: mean |x| in ${units}`));
    const ratio = info.ratio != null ? ` (${info.ratio.toFixed(2)} × healthy ${fmtNum(info.healthy)})` : "";
    head.appendChild(el("span", "ratio", `now ${fmtNum(info.value)}${ratio}`));
    wrap.appendChild(head);
    const width = Math.max(300, box.clientWidth || 600), height = 96;
    const left = 56, right = 10, top = 6, bottom = 22, h = height - top - bottom;
    const svg = svgEl("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img",
      "aria-label": `${name} feature trend` }, wrap);
    const pts = tl.buckets.filter((b) => b.features[i] != null);
    if (pts.length) {
      const values = pts.map((b) => b.features[i]).concat(info.healthy != null ? [info.healthy] : []);
      const scale = scaleFor(values);
      const y = yMap(scale, top, h);
      const span = tl.end - tl.start || 1;
      const x = (t) => left + ((t - tl.start) / span) * (width - left - right);
      drawAxes(svg, left, width - right, top, h, y, scale, tl, width, 2);
      if (info.healthy != null) {
        svgEl("line", { class: "healthy-line", x1: left, x2: width - right, y1: y(info.healthy), y2: y(info.healthy) }, svg);
      }
      svgEl("polyline", { class: name === driver ? "feature-line driver" : "feature-line",
        points: pts.map((b) => `${x((b.t0 + b.t1) / 2).toFixed(1)},${y(b.features[i]).toFixed(1)}`).join(" ") }, svg);
    }
    box.appendChild(wrap);
  });
}

// -- vibration analysis (issue 24): velocity and its ISO zone, the physics diagnosis and its spectrum --------

let spectrumShownFor = null;  // the diagnosis time the drawn spectrum belongs to

function showVibration(f) {
  const v = f.velocity;
  const body = $("velocity").tBodies[0];
  body.replaceChildren();
  if (v) {
    v.channels.forEach((name, i) => {
      const tr = el("tr");
      tr.appendChild(el("td", null, name));
      tr.appendChild(el("td", "value", v.mm_s[i] == null ? "-" : `${v.mm_s[i].toFixed(2)} mm/s`));
      const zone = el("td");
      const badge = el("span", `zone zone-${v.zones[i]}`, v.zones[i]);
      badge.title = ZONE_WORDS[v.zones[i]] || "";
      zone.appendChild(badge);
      zone.appendChild(el("span", "help", ` ${ZONE_WORDS[v.zones[i]] || ""}`));
      tr.appendChild(zone);
      tr.dataset.zone = v.zones[i];
      body.appendChild(tr);
    });
    text("velocity-class", `RMS velocity 10-1000 Hz of the snapshot of ${fmtTime(v.time)}; zones of ${v.class}. ` +
      "Check the limits against your copy of the standard for your machine ([vibration] in agent.toml).");
  } else {
    text("velocity-class", "No velocity yet: it is read from running snapshots (and needs 2 kHz sampling or more).");
  }
  const p = f.physics_diagnosis;
  const line = $("physics");
  if (!p) {
    line.textContent = "Physics diagnosis: none yet (the agent journals it for alarming snapshots).";
  } else if (!p.available) {
    line.textContent = `Physics diagnosis: ${p.why_not}`;
  } else if (p.part == null) {
    line.textContent = "Physics diagnosis: no alarming snapshot since the bundle was loaded.";
  } else {
    const part = p.part === "none" ? "no clear defect line" : p.part.replace("_", " ");
    line.textContent = `Physics diagnosis (${p.level} snapshot of ${fmtTime(p.time)}): ${part}` +
      (p.part === "none" ? "" : `, confidence ${p.confidence.toFixed(2)}: ${p.text}`);
  }
  line.dataset.part = p && p.part ? p.part : "";
  const at = p && p.available && p.part != null ? p.time : null;
  if (at == null) {
    $("chart-spectrum").hidden = true;
    $("spectrum-legend").hidden = true;
    spectrumShownFor = null;
  } else if (at !== spectrumShownFor) {
    spectrumShownFor = at;
    loadSpectrum();
  }
}

const ZONE_WORDS = { A: "newly commissioned", B: "unrestricted long-term operation",
  C: "restricted operation: plan maintenance", D: "damage likely: act now" };

async function loadSpectrum() {
  try {
    const answer = await getJSON("/api/spectrum");
    if (answer.spectrum) drawSpectrum(answer.spectrum);
  } catch (err) {
    spectrumShownFor = null;  // try again at the next status
  }
}

function drawSpectrum(sp) {
  const box = $("chart-spectrum");
  box.hidden = false;
  $("spectrum-legend").hidden = false;
  box.replaceChildren();
  const width = Math.max(300, box.clientWidth || 600);
  const height = width < 500 ? 230 : 280;
  const left = 48, right = 10, top = 22, bottom = 30, h = height - top - bottom;
  const svg = svgEl("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img",
    "aria-label": `squared envelope spectrum of ${sp.channel} against the commissioning baseline` }, box);
  svg.dataset.part = sp.part;
  svg.dataset.channel = sp.channel;
  const n = sp.snapshot_db.length;
  const fmax = sp.start_hz + sp.step_hz * (n - 1);
  const x = (hz) => left + ((hz - sp.start_hz) / (fmax - sp.start_hz || 1)) * (width - left - right);
  const values = sp.snapshot_db.concat(sp.baseline_db).filter((v) => v != null);
  const hi = Math.max(...values), lo = Math.max(Math.min(...values), hi - 60);
  const y = (db) => top + h - ((Math.max(db, lo) - lo) / (hi - lo || 1)) * h;
  for (let k = 0; k <= 4; k++) {
    const db = lo + ((hi - lo) * k) / 4;
    svgEl("line", { class: "grid", x1: left, x2: width - right, y1: y(db), y2: y(db) }, svg);
    svgEl("text", { x: left - 6, y: y(db) + 4, "text-anchor": "end" }, svg).textContent = `${Math.round(db)}`;
  }
  const ticks = width < 500 ? 3 : 6;
  for (let k = 0; k <= ticks; k++) {
    const hz = sp.start_hz + ((fmax - sp.start_hz) * k) / ticks;
    svgEl("text", { x: x(hz), y: top + h + 16, "text-anchor": k === 0 ? "start" : k === ticks ? "end" : "middle" },
      svg).textContent = `${Math.round(hz)} Hz`;
  }
  svgEl("text", { x: left, y: 14 }, svg).textContent = `${sp.channel}: squared envelope spectrum, dB`;
  for (const m of sp.marks) {
    const mark = svgEl("line", { class: `defect-mark part-${m.part}`, x1: x(m.hz), x2: x(m.hz), y1: top, y2: top + h }, svg);
    svgEl("title", {}, mark).textContent = `${m.part.replace("_", " ")} ${m.harmonic}x: ${m.hz} Hz`;
  }
  const path = (series) => series.map((v, i) => v == null ? null : `${x(sp.start_hz + i * sp.step_hz).toFixed(1)},${y(v).toFixed(1)}`)
    .filter(Boolean).join(" ");
  svgEl("polyline", { class: "baseline-line", points: path(sp.baseline_db) }, svg);
  svgEl("polyline", { class: "spectrum-line", points: path(sp.snapshot_db) }, svg);
  for (const line of sp.found) {
    const i = Math.round((line.hz - sp.start_hz) / sp.step_hz);
    const db = sp.snapshot_db[Math.max(0, Math.min(n - 1, i))];
    if (db == null) continue;
    const c = svgEl("circle", { class: `named-line part-${sp.part}`, cx: x(line.hz), cy: y(db), r: 7 }, svg);
    svgEl("title", {}, c).textContent = `${line.kind} ${line.order}: ${line.hz} Hz, ${line.db_over_floor} dB over the floor`;
  }
}

// -- acknowledge ----------------------------------------------------------------------------------

async function acknowledge() {
  const button = $("ack");
  button.disabled = true;
  text("ack-result", "sending…");
  try {
    const r = await fetch("/api/ack", { method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json" }, body: "{}" });
    const body = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(body.error || `HTTP ${r.status}`);
    text("ack-result", body.agent_running
      ? "Acknowledgement sent; the agent applies it within about a second."
      : "Acknowledgement queued, but the agent is not running: it applies it when it starts.");
  } catch (err) {
    text("ack-result", `Acknowledgement failed: ${err.message}`);
  } finally {
    button.disabled = false;
    setTimeout(pollStatus, 1000);
  }
}

// -- polling ----------------------------------------------------------------------------------

async function pollStatus() {
  try {
    showStatus(await getJSON("/api/status"));
  } catch (err) {
    $("unreachable").hidden = false;
    setPill("pill-unknown", "server not answering");
  }
}

function start() {
  for (const b of document.querySelectorAll(".ranges button")) {
    b.addEventListener("click", () => { range = b.dataset.range; loadTimeline(); });
  }
  $("ack").addEventListener("click", acknowledge);
  $("all-counters").addEventListener("toggle", () => { if (lastStatus) showCounters(lastStatus.counters); });
  let resizeTimer = null;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => { if (lastTimeline) showTimeline(lastTimeline); }, 200);
  });
  pollStatus();
  setInterval(pollStatus, STATUS_EVERY_MS);
  setInterval(loadTimeline, TIMELINE_EVERY_MS);
}

document.addEventListener("DOMContentLoaded", start);
