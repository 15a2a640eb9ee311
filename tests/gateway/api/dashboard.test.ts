import { test } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser } from "playwright-core";
import { PNG } from "pngjs";
import { startApiGateway } from "../../support/gateway-api.js";
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

test("the dashboard shows both sensors, the outbox depth, and each sensor's line on the live chart", async () => {
  const t = await startApiGateway(["greenhouse-1", "greenhouse-2"]);
  const shots = tempDir("dashboard");
  let browser: Browser | undefined;
  try {
    browser = await within("Chromium to start", chromium.launch({ executablePath: "/usr/bin/chromium", args: CHROMIUM_ARGS, timeout: BROWSER_WAIT_MS }), BROWSER_WAIT_MS);
    const page = await browser.newPage({ viewport: { width: 1000, height: 900 }, deviceScaleFactor: 1 });
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    // Conditions are page-side expressions (the tests compile without DOM types).
    const until = (expression: string) => page.waitForFunction(expression, undefined, { timeout: BROWSER_WAIT_MS });
    await page.goto(t.base + "/", { timeout: BROWSER_WAIT_MS });
    // Published after the page is open, so the chart gets them from the live stream.
    await until('document.getElementById("stream-state").textContent === "stream: live"');
    const one = await t.device("greenhouse-1");
    const two = await t.device("greenhouse-2");
    for (let seq = 1; seq <= 6; seq++) {
      await t.publish(one, [seq]);
      await t.publish(two, [seq + 20]);
    }
    const rows = page.locator("#sensors tbody tr");
    await until('document.querySelectorAll("#sensors tbody tr").length === 2');
    assert.equal([await rows.nth(0).getAttribute("data-sensor-id"), await rows.nth(1).getAttribute("data-sensor-id")], ["greenhouse-1", "greenhouse-2"]);
    await until('/^\\d+$/.test(document.getElementById("outbox-depth").textContent)');
    await until('document.querySelector("#sensors tbody tr td:nth-child(4)").textContent === "6"');
    assert.match(await rows.first().innerText(), /greenhouse-1\s+\d+ s ago\s+20\.6 °C\s+6/);
    const canvas = page.locator("#chart");
    await until('Object.keys(JSON.parse(document.getElementById("chart").dataset.sensorColors ?? "{}")).length === 2');
    const colors = JSON.parse((await canvas.getAttribute("data-sensor-colors")) ?? "{}") as Record<string, string>;
    assert.equal(Object.keys(colors).sort(), ["greenhouse-1", "greenhouse-2"]);
    assert.is.not(colors["greenhouse-1"], colors["greenhouse-2"], "a distinct colour per sensor");
    assert.match(await page.locator("#legend").innerText(), /greenhouse-1[\s\S]*greenhouse-2/);
    // Two animation frames, so the last events are drawn before the screenshot.
    await page.evaluate("new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)))");

    const file = join(shots.path, "dashboard.png");
    writeFileSync(file, await page.screenshot({ fullPage: true, timeout: BROWSER_WAIT_MS }));
    const png = PNG.sync.read(readFileSync(file));
    const box = await canvas.boundingBox();
    assert.ok(box, "the chart is on the page");
    for (const [sensorId, color] of Object.entries(colors)) {
      assert.ok(countPixels(png, box, hexToRgb(color)) >= 20, `the chart shows ${sensorId}'s line in ${color} (screenshot ${file})`);
    }
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
