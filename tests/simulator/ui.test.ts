/*
 * The simulator's web UI: its API through real HTTP (the token, bounds and
 * refusals), and the page in headless Chromium against a running fleet of
 * XS devices: the fleet table with states, flash fill and last values, the
 * live chart checked in a screenshot, and the controls that cut a
 * device's power and its network.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser } from "playwright-core";
import { PNG } from "pngjs";
import { startUiServer, MAX_UI_STREAMS } from "../../simulator/ui/ui-server.js";
import { startPacketBroker } from "../support/packet-broker.js";
import { appDevice, startRecordedFleet } from "../support/fleet.js";
import { peerProgram } from "../support/peer-programs.js";
import { tempDir, waitFor, within } from "../support/test-helpers.js";

const BROWSER_WAIT_MS = 20_000;
const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

function countPixels(png: PNG, box: { x: number; y: number; width: number; height: number }, hex: string, tolerance = 6): number {
  const rgb = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
  let count = 0;
  for (let y = Math.ceil(box.y); y < Math.floor(box.y + box.height) && y < png.height; y++) {
    for (let x = Math.ceil(box.x); x < Math.floor(box.x + box.width) && x < png.width; x++) {
      const i = (y * png.width + x) * 4;
      if (rgb.every((c, k) => Math.abs(png.data[i + k] - c) <= tolerance)) count++;
    }
  }
  return count;
}

async function fleetWithUi() {
  const broker = await startPacketBroker();
  const fleet = await startRecordedFleet([
    appDevice("ui-1", broker.port, { samplePeriodMs: 200 }, [{ part: "tmp117" }]),
    appDevice("ui-2", broker.port, { samplePeriodMs: 200 }, [{ part: "sht3x" }]),
    appDevice("ui-3", broker.port, { samplePeriodMs: 200 }, [{ part: "bme280" }]),
  ], { workers: 1 });
  for (const device of fleet.engine.devices) fleet.engine.powerOn(device);
  await fleet.engine.booted();
  const ui = await startUiServer({ engine: fleet.engine, port: 0 });
  const base = `http://127.0.0.1:${ui.port}`;
  return {
    fleet, ui, base,
    call: (path: string, init: RequestInit & { token?: string | null } = {}) => fetch(base + path, {
      ...init,
      headers: { ...(init.token === null ? {} : { "x-xsedge-token": init.token ?? ui.token }), ...(init.body ? { "content-type": "application/json" } : {}) },
    }),
    close: async () => {
      await ui.close();
      await fleet.engine.close();
      await broker.close();
    },
  };
}

test("the API wants the run's token, bounds what it takes, and refuses with reasons it counts", async () => {
  const t = await fleetWithUi();
  try {
    assert.is((await t.call("/api/fleet", { token: null })).status, 401);
    assert.is((await t.call("/api/fleet", { token: "0".repeat(32) })).status, 401);
    assert.is((await t.call("/api/fleet", { token: t.ui.token.slice(1) })).status, 401, "a shorter token is wrong, not an error");
    assert.ok(t.ui.refusals.token >= 3);
    const page = (await (await t.call("/api/fleet?limit=2&filter=ui-")).json()) as { devices: { total: number }; page: { matching: number }; rows: Array<{ id: string }> };
    assert.equal([page.devices.total, page.page.matching, page.rows.map((r: { id: string }) => r.id)], [3, 3, ["ui-1", "ui-2"]]);
    assert.is((await t.call("/api/fleet?limit=5000")).status, 400);
    assert.is((await t.call("/api/devices/nope-9/power", { method: "POST", body: JSON.stringify({ on: false }) })).status, 404);
    assert.is((await t.call("/api/devices/ui-1/power", { method: "POST", body: JSON.stringify({ on: "yes" }) })).status, 400);
    assert.is((await t.call("/api/devices/ui-1/power", { method: "POST", body: JSON.stringify({ on: false, pad: "x".repeat(2000) }) })).status, 413);
    assert.is((await t.call("/api/devices/ui-1/power", { method: "GET" })).status, 405);
    assert.is((await t.call("/static/../../etc/passwd", { token: null })).status, 404);
    // Streams are bounded: one more than allowed is refused while the others are open.
    const controllers = Array.from({ length: MAX_UI_STREAMS }, () => new AbortController());
    const streams = await Promise.all(controllers.map((c) => fetch(`${t.base}/api/fleet/stream?token=${t.ui.token}`, { signal: c.signal })));
    assert.ok(streams.every((s) => s.status === 200));
    assert.is((await t.call("/api/fleet/stream")).status, 503);
    for (const c of controllers) c.abort();
    await waitFor("the streams to close", async () => (await t.call("/api/fleet/stream?limit=1")).status === 200 || undefined);
    const off = await (await t.call("/api/devices/ui-3/power", { method: "POST", body: JSON.stringify({ on: false }) })).json();
    assert.equal(off, { id: "ui-3", state: "off", networkDown: false });
  } finally {
    await t.close();
  }
});

test("the page shows each device's state, flash and last values and charts them; its controls cut a device's power and network", async () => {
  const t = await fleetWithUi();
  const shots = tempDir("sim-ui");
  let browser: Browser | undefined;
  try {
    browser = await within("Chromium to start", chromium.launch({ executablePath: peerProgram("chromium"), args: CHROMIUM_ARGS, timeout: BROWSER_WAIT_MS }), BROWSER_WAIT_MS);
    const page = await browser.newPage({ viewport: { width: 1200, height: 1000 }, deviceScaleFactor: 1 });
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    const until = (expression: string) => page.waitForFunction(expression, undefined, { timeout: BROWSER_WAIT_MS });
    await page.goto(t.ui.url, { timeout: BROWSER_WAIT_MS });
    await until('document.getElementById("stream-state").textContent === "stream: live"');
    await until('document.querySelectorAll("#devices tbody tr").length === 3');
    await until('[...document.querySelectorAll("#devices tbody td.values")].every((td) => td.textContent.includes("°C"))');
    const rows = page.locator("#devices tbody tr");
    assert.match(await rows.nth(1).innerText(), /ui-2\s+running\s+sht3x\s+up\s+\d+% \(\d+ records\)\s+\d+ erases\s+-?[\d.]+ °C, [\d.]+ %RH/);
    const bme = await rows.nth(2).innerText();
    assert.match(bme, /ui-3\s+running\s+bme280[\s\S]*°C, [\d.]+ %RH, [\d.]+ hPa/, bme);
    assert.is(await page.locator("#devices-total").innerText(), "3");
    await until('Object.keys(JSON.parse(document.getElementById("chart").dataset.sensorColors ?? "{}")).length === 3');
    // A few more seconds of values, so each line has length.
    await until('document.querySelectorAll("#legend li").length === 3');
    await page.waitForTimeout(2500);

    const file = join(shots.path, "sim-ui.png");
    writeFileSync(file, await page.screenshot({ fullPage: true, timeout: BROWSER_WAIT_MS }));
    const png = PNG.sync.read(readFileSync(file));
    const canvas = page.locator("#chart");
    const box = await canvas.boundingBox();
    assert.ok(box, "the chart is on the page");
    const colors = JSON.parse((await canvas.getAttribute("data-sensor-colors")) ?? "{}") as Record<string, string>;
    assert.equal(Object.keys(colors).sort(), ["ui-1", "ui-2", "ui-3"]);
    for (const [id, color] of Object.entries(colors)) assert.ok(countPixels(png, box!, color) >= 20, `the chart shows ${id}'s line in ${color} (screenshot ${file})`);
    assert.is(countPixels(png, box!, "#000000", 0), 0, "a colour no device has is absent: the check can fail");

    // Cut ui-2's power and ui-1's network from the page.
    await page.locator('#devices tbody tr[data-sensor-id="ui-2"] button[data-action="power"]').click();
    await until('document.querySelector(\'#devices tbody tr[data-sensor-id="ui-2"]\').dataset.state === "off"');
    assert.is(t.fleet.device("ui-2").state, "off");
    await page.locator('#devices tbody tr[data-sensor-id="ui-1"] button[data-action="network"]').click();
    await until('document.querySelector(\'#devices tbody tr[data-sensor-id="ui-1"] td:nth-child(4)\').textContent === "cut"');
    assert.ok(t.fleet.device("ui-1").networkDown);
    assert.match(await page.locator("#action-result").innerText(), /ui-1: network cut/);
    // And back on: ui-2 boots again (its second boot).
    await page.locator('#devices tbody tr[data-sensor-id="ui-2"] button[data-action="power"]').click();
    await until('document.querySelector(\'#devices tbody tr[data-sensor-id="ui-2"]\').dataset.state === "running"');
    assert.is(t.fleet.device("ui-2").counters.boots, 2);
    assert.equal(errors, []);
  } finally {
    await browser?.close();
    await t.close();
    if (process.env.KEEP_SHOTS) console.log("screenshots in", shots.path); else shots.remove();
  }
});

test.run();
