import { test } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser } from "playwright-core";
import { PNG } from "pngjs";
import { uplinkTopic } from "../../../hosts/gateway/ingest/ingest.js";
import { encodeObservation } from "../../../modules/observation/record.js";
import { startApiGateway } from "../../support/gateway-api.js";
import { anchorPayload } from "../../support/gateway-records.js";
import { peerProgram } from "../../support/peer-programs.js";
import { tempDir, within } from "../../support/test-helpers.js";

/** Chromium's start and first paint on a busy two-core machine; every wait below is bounded by it. */
const BROWSER_WAIT_MS = 20_000;

const CHROMIUM_ARGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
];

function hexToRgb(hex: string): [number, number, number] {
  const match = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex);
  if (!match) throw new Error(`not a #rrggbb colour: ${hex}`);
  return [parseInt(match[1], 16), parseInt(match[2], 16), parseInt(match[3], 16)];
}

/** Pixels within `box` (CSS px = device px at scale 1) whose colour is within `tolerance` of `rgb` per channel. */
function countPixels(png: PNG, box: { x: number; y: number; width: number; height: number }, rgb: [number, number, number], tolerance = 6): number {
  let count = 0;
  for (let y = Math.ceil(box.y); y < Math.floor(box.y + box.height) && y < png.height; y++) {
    for (let x = Math.ceil(box.x); x < Math.floor(box.x + box.width) && x < png.width; x++) {
      const i = (y * png.width + x) * 4;
      if (Math.abs(png.data[i] - rgb[0]) <= tolerance && Math.abs(png.data[i + 1] - rgb[1]) <= tolerance && Math.abs(png.data[i + 2] - rgb[2]) <= tolerance) count++;
    }
  }
  return count;
}

/** Columns of `box` holding at least one pixel of `rgb`: how far along the time axis a line reaches. */
function columnsWith(png: PNG, box: { x: number; y: number; width: number; height: number }, rgb: [number, number, number]): number[] {
  const columns: number[] = [];
  for (let x = Math.ceil(box.x); x < Math.floor(box.x + box.width) && x < png.width; x++) {
    const one = { x, y: box.y, width: 1, height: box.height };
    if (countPixels(png, one, rgb) > 0) columns.push(x);
  }
  return columns;
}

const SPREAD_MS = 20_000;

test("the dashboard shows the sensors, the outbox depth, each sensor's line over time on the live chart, and counts what it cannot place in time", async () => {
  const t = await startApiGateway(["greenhouse-1", "greenhouse-2", "greenhouse-3"]);
  const shots = tempDir("dashboard");
  let browser: Browser | undefined;
  try {
    browser = await within("Chromium to start", chromium.launch({ executablePath: peerProgram("chromium"), args: CHROMIUM_ARGS, timeout: BROWSER_WAIT_MS }), BROWSER_WAIT_MS);
    const page = await browser.newPage({ viewport: { width: 1000, height: 900 }, deviceScaleFactor: 1 });
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    // Conditions are page-side expressions (the tests compile without DOM types).
    const until = (expression: string) => page.waitForFunction(expression, undefined, { timeout: BROWSER_WAIT_MS });
    await page.goto(t.base + "/", { timeout: BROWSER_WAIT_MS });
    // Published after the page is open, so the chart gets them from the live stream.
    await until('document.getElementById("stream-state").textContent === "stream: live"');
    await until('document.getElementById("chart").dataset.drawn === "0"');
    // A device without a clock anchor yet: nothing to place on the time axis, and the chart says so.
    const three = await t.device("greenhouse-3");
    await t.publish(three, [1, 2, 3, 4]);
    await until('/^4 observations without a wall time yet \\(no clock anchor/.test(document.getElementById("chart-note").textContent)');
    assert.is(await page.locator("#chart").getAttribute("data-drawn"), "0", "nothing drawn for them");
    // Two devices with a clock: anchored 150 s ago, one sample every 20 s since.
    const start = Date.now() - 150_000;
    for (const [id, base] of [["greenhouse-1", 20], ["greenhouse-2", 22]] as const) {
      const device = await t.device(id);
      await device.puback(device.publish(uplinkTopic(id), anchorPayload(id, 1, 0, start)));
      for (let seq = 1; seq <= 6; seq++) {
        const record = encodeObservation({ sensorId: id, seq, boot: 1, uptimeMs: seq * SPREAD_MS, readings: [{ quantity: "temperature", value: base + seq / 10 }] });
        await device.puback(device.publish(uplinkTopic(id), record));
      }
    }
    const rows = page.locator("#sensors tbody tr");
    await until('document.querySelectorAll("#sensors tbody tr").length === 3');
    assert.equal([await rows.nth(0).getAttribute("data-sensor-id"), await rows.nth(1).getAttribute("data-sensor-id")], ["greenhouse-1", "greenhouse-2"]);
    await until('/^\\d+$/.test(document.getElementById("outbox-depth").textContent)');
    await until('document.querySelector("#sensors tbody tr td:nth-child(4)").textContent === "6"');
    assert.match(await rows.first().innerText(), /greenhouse-1\s+\d+ s ago\s+20\.6 °C\s+6/);
    const canvas = page.locator("#chart");
    await until('document.getElementById("chart").dataset.drawn === "12"');
    const colors = JSON.parse((await canvas.getAttribute("data-sensor-colors")) ?? "{}") as Record<string, string>;
    assert.equal(Object.keys(colors).sort(), ["greenhouse-1", "greenhouse-2", "greenhouse-3"]);
    assert.is.not(colors["greenhouse-1"], colors["greenhouse-2"], "a distinct colour per sensor");
    assert.match(await page.locator("#legend").innerText(), /greenhouse-1[\s\S]*greenhouse-2/);
    assert.match(await page.locator("#chart-note").innerText(), /^4 observations without a wall time yet/);
    // Two animation frames, so the last events are drawn before the screenshot.
    await page.evaluate("new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)))");

    const file = join(shots.path, "dashboard.png");
    writeFileSync(file, await page.screenshot({ fullPage: true, timeout: BROWSER_WAIT_MS }));
    const png = PNG.sync.read(readFileSync(file));
    const box = await canvas.boundingBox();
    assert.ok(box, "the chart is on the page");
    for (const sensorId of ["greenhouse-1", "greenhouse-2"]) {
      const rgb = hexToRgb(colors[sensorId]);
      assert.ok(countPixels(png, box, rgb) >= 20, `the chart shows ${sensorId}'s line in ${colors[sensorId]} (screenshot ${file})`);
      // 100 s of samples on a 5-minute axis: a line across a third of it, not a stack of dots at one instant.
      const columns = columnsWith(png, box, rgb);
      assert.ok(columns.at(-1)! - columns[0] >= box.width / 4, `${sensorId}'s line spans ${columns.at(-1)! - columns[0]} px of ${box.width} (screenshot ${file})`);
    }
    assert.is(countPixels(png, box, hexToRgb(colors["greenhouse-3"])), 0, "greenhouse-3 has no time: not drawn");
    // A colour no sensor has is absent: the check can fail.
    assert.is(countPixels(png, box, [0, 0, 0], 0), 0);
    assert.equal(errors, [], "no script errors");
  } finally {
    await browser?.close();
    await t.done();
    if (!process.env.KEEP_SCREENSHOT) shots.remove();
  }
});

test.run();
