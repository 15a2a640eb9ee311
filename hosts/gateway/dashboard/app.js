// The gateway's live dashboard: plain browser JavaScript, no build step, no
// network beyond the gateway itself. The sensor table, outbox and relay are
// polled JSON; the chart is fed by the observation stream (SSE), which the
// browser resumes by itself after a drop (EventSource sends Last-Event-ID).

// One colour per sensor, in order of first appearance. Exposed on the canvas
// as data-sensor-colors ({sensorId: colour}) so tests and tools read them
// from here rather than repeating them.
// Records name units in SenML ("Cel"); people read °C.
const DISPLAY_UNITS = { Cel: "°C" };
// Readings whose unit says what they are; any other quantity (an app's own,
// a CO2 level) is shown with its name, as the API carries it.
const SELF_EVIDENT = new Set(["temperature", "humidity", "pressure"]);
const PALETTE = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#00a3b4", "#f032e6", "#9a6324"];
// The chart shows this much history.
const CHART_WINDOW_MS = 5 * 60_000;
// How often the table, outbox and relay are refreshed: a person reads no faster.
const POLL_MS = 1000;
// Points kept per sensor: one a second for the whole window, so a fast
// sensor cannot grow the page's memory without bound.
const MAX_POINTS_PER_SENSOR = CHART_WINDOW_MS / 1000;
// History loaded at start; the API's largest page.
const HISTORY_LIMIT = 1000;

const $ = (id) => document.getElementById(id);
const canvas = $("chart");
const series = new Map(); // sensorId -> [{t, v}], oldest first
const colors = new Map();
// Observations with no wall time (their device's boot has no clock anchor
// yet) have no place on a time axis: counted and said, not drawn at a
// guessed time (the receive time of a backlog is minutes after it was measured).
let untimed = 0;
let drawPending = false;

$("chart-window").textContent = String(CHART_WINDOW_MS / 60_000);

function colorOf(sensorId) {
  let color = colors.get(sensorId);
  if (color === undefined) {
    color = PALETTE[colors.size % PALETTE.length];
    colors.set(sensorId, color);
    canvas.dataset.sensorColors = JSON.stringify(Object.fromEntries(colors));
    renderLegend();
  }
  return color;
}

function renderLegend() {
  const items = [...colors].map(([sensorId, color]) => {
    const li = document.createElement("li");
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = color;
    li.append(swatch, sensorId);
    return li;
  });
  $("legend").replaceChildren(...items);
}

function renderNote() {
  $("chart-note").textContent =
    untimed === 0 ? "" : `${untimed} observation${untimed === 1 ? "" : "s"} without a wall time yet (no clock anchor for their device's boot): not drawn`;
}

function addObservation(obs) {
  const temperature = obs.readings.find((r) => r.quantity === "temperature");
  if (!temperature) return;
  let points = series.get(obs.sensorId);
  if (!points) series.set(obs.sensorId, (points = []));
  colorOf(obs.sensorId);
  if (obs.time === null || obs.time === undefined) {
    untimed++;
    renderNote();
    scheduleDraw();
    return;
  }
  points.push({ t: obs.time, v: temperature.value });
  if (points.length > MAX_POINTS_PER_SENSOR) points.splice(0, points.length - MAX_POINTS_PER_SENSOR);
  scheduleDraw();
}

function scheduleDraw() {
  if (drawPending) return;
  drawPending = true;
  requestAnimationFrame(() => {
    drawPending = false;
    draw();
  });
}

function draw() {
  const ctx = canvas.getContext("2d");
  const { width, height } = canvas;
  const pad = { left: 48, right: 12, top: 12, bottom: 24 };
  const end = Date.now();
  const start = end - CHART_WINDOW_MS;
  ctx.clearRect(0, 0, width, height);
  const visible = [...series].map(([id, points]) => [id, points.filter((p) => p.t >= start)]);
  const values = visible.flatMap(([, points]) => points.map((p) => p.v));
  let lo = values.length ? Math.min(...values) : 0;
  let hi = values.length ? Math.max(...values) : 1;
  if (hi - lo < 1) [lo, hi] = [lo - 0.5, hi + 0.5];
  const x = (t) => pad.left + ((Math.min(t, end) - start) / CHART_WINDOW_MS) * (width - pad.left - pad.right);
  const y = (v) => pad.top + (1 - (v - lo) / (hi - lo)) * (height - pad.top - pad.bottom);

  ctx.strokeStyle = "#e3e5ea";
  ctx.fillStyle = "#667";
  ctx.lineWidth = 1;
  ctx.font = "11px system-ui, sans-serif";
  for (let i = 0; i <= 4; i++) {
    const v = lo + ((hi - lo) * i) / 4;
    ctx.beginPath();
    ctx.moveTo(pad.left, y(v));
    ctx.lineTo(width - pad.right, y(v));
    ctx.stroke();
    ctx.fillText(`${v.toFixed(1)} °C`, 2, y(v) + 4);
  }
  ctx.fillText(`−${CHART_WINDOW_MS / 60_000} min`, pad.left, height - 6);
  ctx.fillText("now", width - pad.right - 22, height - 6);

  if (values.length === 0) {
    // An empty chart says why.
    ctx.fillStyle = "#445";
    ctx.font = "14px system-ui, sans-serif";
    ctx.textAlign = "center";
    const why = untimed > 0 ? `Nothing to draw yet: ${untimed} observation${untimed === 1 ? " has" : "s have"} no wall time (no clock anchor)` : `No observations in the last ${CHART_WINDOW_MS / 60_000} minutes`;
    ctx.fillText(why, pad.left + (width - pad.left - pad.right) / 2, pad.top + (height - pad.top - pad.bottom) / 2);
    ctx.textAlign = "start";
    canvas.dataset.drawn = "0";
    return;
  }
  canvas.dataset.drawn = String(values.length);
  for (const [id, points] of visible) {
    if (points.length === 0) continue;
    const color = colors.get(id);
    ctx.strokeStyle = color;
    ctx.fillStyle = color;
    ctx.lineWidth = 2;
    ctx.beginPath();
    points.forEach((p, i) => (i === 0 ? ctx.moveTo(x(p.t), y(p.v)) : ctx.lineTo(x(p.t), y(p.v))));
    ctx.stroke();
    for (const p of points) {
      ctx.beginPath();
      ctx.arc(x(p.t), y(p.v), 3.5, 0, 2 * Math.PI);
      ctx.fill();
    }
  }
}

async function getJson(path) {
  const response = await fetch(path, { cache: "no-store" });
  const body = await response.json();
  // /healthz answers 503 with a body worth showing.
  if (!response.ok && path !== "/healthz") throw new Error(body.error ?? `${path}: HTTP ${response.status}`);
  return body;
}

function ago(ms) {
  if (ms === null) return "never";
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  return s < 60 ? `${s} s ago` : s < 3600 ? `${Math.round(s / 60)} min ago` : new Date(ms).toLocaleString();
}

function renderSensors(sensors) {
  const rows = sensors.map((s) => {
    const tr = document.createElement("tr");
    tr.dataset.sensorId = s.sensorId;
    const values = s.lastReadings.map((r) => `${SELF_EVIDENT.has(r.quantity) ? "" : `${r.quantity} `}${r.value} ${DISPLAY_UNITS[r.unit] ?? r.unit}`).join(", ") || "–";
    for (const text of [s.sensorId, ago(s.lastReceivedAt), values, String(s.observations)]) {
      const td = document.createElement("td");
      td.textContent = text;
      tr.append(td);
    }
    return tr;
  });
  document.querySelector("#sensors tbody").replaceChildren(...rows);
}

// A gateway with rules off answers 503: the section stays hidden.
async function refreshRules() {
  const response = await fetch("/api/v1/rules", { cache: "no-store" });
  $("rules-section").hidden = !response.ok;
  if (!response.ok) return;
  const { rules } = await response.json();
  const rows = rules.map((r) => {
    const tr = document.createElement("tr");
    tr.dataset.rule = r.name;
    const lag = r.lagObservations > 0 ? `${r.lagObservations} (${Math.round(r.lagMs / 1000)} s)` : "caught up";
    for (const text of [r.name, `v${r.version}`, r.status, lag, String(r.events), String(r.derived), String(r.alerts), `${r.stateBytes} B`, String(r.failuresTotal), r.lastError?.message ?? ""]) {
      const td = document.createElement("td");
      td.textContent = text;
      tr.append(td);
    }
    if (r.status !== "running") tr.className = "error";
    return tr;
  });
  document.querySelector("#rules tbody").replaceChildren(...rows);
  const { alerts } = await getJson("/api/v1/rules/alerts?limit=5");
  $("alerts").replaceChildren(...alerts.map((a) => {
    const li = document.createElement("li");
    li.textContent = `${ago(a.at)}: ${a.rule} ${a.state} ${a.key}${a.message ? ` — ${a.message}` : ""}`;
    if (a.state === "raised") li.className = "error";
    return li;
  }));
}

async function refresh() {
  const [{ sensors }, outbox, relay, health] = await Promise.all([
    getJson("/api/v1/sensors"),
    getJson("/api/v1/outbox"),
    getJson("/api/v1/relay"),
    getJson("/healthz"),
  ]);
  renderSensors(sensors);
  await refreshRules();
  $("outbox-depth").textContent = String(outbox.depth);
  $("outbox-age").textContent = outbox.oldestAgeMs === null ? "–" : `${Math.round(outbox.oldestAgeMs / 1000)} s`;
  $("relay-state").textContent = `${relay.state} → ${relay.connector}`;
  $("relay-relayed").textContent = String(relay.relayed);
  $("relay-failures").textContent = String(relay.failures);
  $("relay-error").textContent = relay.lastError ?? "";
  $("health").textContent = health.status === "ok" ? "healthy" : `${health.status === "degraded" ? "degraded" : "unhealthy"}: ${health.reasons.join("; ")}`;
  $("health").className = `badge ${health.status}`;
}

async function poll() {
  try {
    await refresh();
  } catch (error) {
    $("health").textContent = `gateway unreachable: ${error.message}`;
    $("health").className = "badge failing";
  }
  setTimeout(poll, POLL_MS);
}

async function startStream() {
  const { observations } = await getJson(`/api/v1/observations?limit=${HISTORY_LIMIT}`);
  for (const obs of [...observations].reverse()) addObservation(obs);
  const after = observations.length > 0 ? observations[0].id : 0;
  const source = new EventSource(`/api/v1/observations/stream?after=${after}`);
  source.onopen = () => ($("stream-state").textContent = "stream: live");
  source.onerror = () => ($("stream-state").textContent = "stream: reconnecting");
  source.onmessage = (event) => addObservation(JSON.parse(event.data));
}

poll();
startStream().catch((error) => ($("stream-state").textContent = `stream: ${error.message}`));
// The window slides even when nothing arrives.
setInterval(scheduleDraw, POLL_MS);
scheduleDraw();
