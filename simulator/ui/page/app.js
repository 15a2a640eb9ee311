// The simulator's web UI: plain browser JavaScript, no build step, nothing
// beyond the simulator itself. A page of the fleet comes once a second over
// Server-Sent Events; the controls POST to the API. Every API call carries
// the run's token, which xsedge sim printed in this page's address (the
// fragment, so it is never in a request line or a log).

const PALETTE = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#00a3b4", "#f032e6", "#9a6324"];
// The chart shows up to this much of the fleet's clock (virtual time may run
// fast), and no less than the shortest, so the first seconds fill its width.
const CHART_WINDOW_MS = 5 * 60_000;
const SHORTEST_WINDOW_MS = 10_000;
// Devices charted at most: one colour each.
const CHARTED = PALETTE.length;
// Points kept per charted device: one a second for the window at real speed.
const MAX_POINTS = 300;
const PAGE = 50;

const $ = (id) => document.getElementById(id);
const token = new URLSearchParams(location.hash.slice(1)).get("token") ?? "";
const canvas = $("chart");
const series = new Map(); // id -> [{t, v, quantity}]
const colors = new Map();
let offset = 0;
let filter = "";
let stream;
let last;

function colorOf(id) {
  let color = colors.get(id);
  if (color === undefined && colors.size < CHARTED) {
    color = PALETTE[colors.size];
    colors.set(id, color);
    canvas.dataset.sensorColors = JSON.stringify(Object.fromEntries(colors));
    renderLegend();
  }
  return color;
}

function renderLegend() {
  $("legend").replaceChildren(...[...colors].map(([id, color]) => {
    const li = document.createElement("li");
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = color;
    li.append(swatch, id);
    return li;
  }));
}

function formatValues(values) {
  if (!values) return "–";
  const parts = [];
  if (values.temperature !== undefined) parts.push(`${values.temperature.toFixed(2)} °C`);
  if (values.humidity !== undefined) parts.push(`${values.humidity.toFixed(1)} %RH`);
  if (values.pressure !== undefined) parts.push(`${(values.pressure / 100).toFixed(1)} hPa`);
  return parts.join(", ") || "–";
}

function cell(text, className) {
  const td = document.createElement("td");
  if (className) td.className = className;
  td.textContent = text;
  return td;
}

function control(label, action, id, value) {
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = label;
  button.dataset.action = action;
  button.dataset.value = String(value);
  button.addEventListener("click", () => act(id, action, value));
  return button;
}

async function act(id, action, value) {
  const body = action === "power" ? { on: value } : { up: value };
  const answer = await fetch(`/api/devices/${encodeURIComponent(id)}/${action}`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-xsedge-token": token },
    body: JSON.stringify(body),
  });
  const result = await answer.json();
  $("action-result").textContent = answer.ok ? `${id}: ${action === "power" ? (value ? "power on" : "power cut") : value ? "network restored" : "network cut"}` : `${id}: ${result.error}`;
}

function renderRow(row) {
  const tr = document.createElement("tr");
  tr.dataset.sensorId = row.id;
  tr.dataset.state = row.state;
  const state = document.createElement("td");
  const badge = document.createElement("span");
  badge.className = `badge state-${row.state}`;
  badge.textContent = row.state;
  state.append(badge);
  const fill = document.createElement("td");
  const bar = document.createElement("span");
  bar.className = "fill";
  const inner = document.createElement("span");
  inner.style.width = `${Math.round(row.flash.fill * 100)}%`;
  bar.append(inner);
  fill.append(bar, `${(row.flash.fill * 100).toFixed(0)}% (${row.flash.records} records)`);
  const controls = document.createElement("td");
  const on = row.state === "off" || row.state === "halted";
  controls.append(control(on ? "power on" : "cut power", "power", row.id, on), " ", control(row.networkDown ? "restore network" : "cut network", "network", row.id, row.networkDown));
  tr.append(cell(row.id), state, cell(row.part), cell(row.networkDown ? "cut" : "up", row.networkDown ? "net-cut" : ""), fill,
    cell(`${row.flash.maxErases} erases`), cell(formatValues(row.values), "values"), cell(String(row.boots)), controls);
  return tr;
}

function render(snapshot) {
  last = snapshot;
  $("clock").textContent = new Date(snapshot.time).toISOString().replace("T", " ").slice(0, 19);
  for (const key of ["total", "running", "booting", "off", "halted"]) $(`devices-${key}`).textContent = String(snapshot.devices[key]);
  $("memory").textContent = String(snapshot.cost.memoryPerDeviceKiB);
  $("cpu").textContent = snapshot.cost.cpuPerDeviceSecondUs ?? "–";
  $("workers").textContent = String(snapshot.workers);
  $("late").textContent = String(snapshot.cost.timersLateP99Ms);
  const { offset: from, matching } = snapshot.page;
  $("page-label").textContent = matching === 0 ? "(no device matches)" : `(${from + 1}–${from + snapshot.rows.length} of ${matching})`;
  $("prev").disabled = from === 0;
  $("next").disabled = from + snapshot.rows.length >= matching;
  $("devices").tBodies[0].replaceChildren(...snapshot.rows.map(renderRow));
  for (const row of snapshot.rows) {
    if (!row.values) continue;
    const quantity = row.values.temperature !== undefined ? "temperature" : Object.keys(row.values)[0];
    if (quantity === undefined || colorOf(row.id) === undefined) continue;
    const points = series.get(row.id) ?? [];
    points.push({ t: snapshot.time, v: row.values[quantity] });
    if (points.length > MAX_POINTS) points.splice(0, points.length - MAX_POINTS);
    series.set(row.id, points);
  }
  requestAnimationFrame(draw);
}

function draw() {
  const ctx = canvas.getContext("2d");
  const { width, height } = canvas;
  const pad = { left: 48, right: 12, top: 12, bottom: 24 };
  ctx.clearRect(0, 0, width, height);
  if (!last) return;
  const end = last.time;
  const first = Math.min(...[...series.values()].map((points) => points[0]?.t ?? end));
  const start = Math.min(end - SHORTEST_WINDOW_MS, Math.max(end - CHART_WINDOW_MS, first));
  const span = end - start;
  const visible = [...series].map(([id, points]) => [id, points.filter((p) => p.t >= start)]).filter(([, points]) => points.length > 0);
  const values = visible.flatMap(([, points]) => points.map((p) => p.v));
  if (values.length === 0) return;
  let low = Math.min(...values);
  let high = Math.max(...values);
  if (high - low < 1) [low, high] = [low - 0.5, high + 0.5];
  const x = (t) => pad.left + ((t - start) / span) * (width - pad.left - pad.right);
  const y = (v) => height - pad.bottom - ((v - low) / (high - low)) * (height - pad.top - pad.bottom);
  ctx.strokeStyle = "#c8ccd4";
  ctx.fillStyle = "#667";
  ctx.font = "11px system-ui";
  for (const v of [low, (low + high) / 2, high]) {
    ctx.beginPath();
    ctx.moveTo(pad.left, y(v));
    ctx.lineTo(width - pad.right, y(v));
    ctx.stroke();
    ctx.fillText(v.toFixed(1), 4, y(v) + 4);
  }
  ctx.lineWidth = 2;
  for (const [id, points] of visible) {
    ctx.strokeStyle = colors.get(id);
    ctx.beginPath();
    points.forEach((p, i) => (i === 0 ? ctx.moveTo(x(p.t), y(p.v)) : ctx.lineTo(x(p.t), y(p.v))));
    // A single point is a short stroke, so a device with one value still shows.
    if (points.length === 1) ctx.lineTo(x(points[0].t) - 6, y(points[0].v));
    ctx.stroke();
  }
}

function open() {
  stream?.close();
  const query = new URLSearchParams({ offset: String(offset), limit: String(PAGE), filter, token });
  stream = new EventSource(`/api/fleet/stream?${query}`);
  stream.onopen = () => ($("stream-state").textContent = "stream: live");
  stream.onerror = () => ($("stream-state").textContent = "stream: reconnecting");
  stream.onmessage = (event) => render(JSON.parse(event.data));
}

$("prev").addEventListener("click", () => { offset = Math.max(0, offset - PAGE); open(); });
$("next").addEventListener("click", () => { offset += PAGE; open(); });
$("filter").addEventListener("change", (event) => { filter = event.target.value; offset = 0; open(); });
open();
