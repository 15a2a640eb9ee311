/*
 * The dashboard's rules: the table (version, status, lag, events,
 * derived, alerts, state size, failures, last error) and the recent alerts, in headless Chromium
 * against a gateway running the freezer alarm.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { chromium, type Browser } from "playwright-core";
import { exampleSource, startRulesGateway } from "../../support/rules-gateway.js";
import { within } from "../../support/test-helpers.js";
import { peerProgram } from "../../support/peer-programs.js";

const BROWSER_WAIT_MS = 20_000;
const CHROMIUM_ARGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
];

test("the dashboard lists each rule with its version, status, lag and counts, and the latest alerts", async () => {
  const t = await startRulesGateway(["freezer-1"]);
  let browser: Browser | undefined;
  try {
    assert.is((await t.deploy(exampleSource("freezer-alarm"), "freezer-alarm.ts")).status, 201);
    const device = await t.device("freezer-1");
    await t.publish(device, 1, [{ quantity: "temperature", value: -10 }]);
    await t.caughtUp("freezer-alarm");
    browser = await within("Chromium to start", chromium.launch({ executablePath: peerProgram("chromium"), args: CHROMIUM_ARGS, timeout: BROWSER_WAIT_MS }), BROWSER_WAIT_MS);
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    await page.goto(t.base + "/", { timeout: BROWSER_WAIT_MS });
    await page.waitForFunction('document.querySelectorAll("#rules tbody tr").length === 1', undefined, { timeout: BROWSER_WAIT_MS });
    const cells = await page.locator('#rules tbody tr[data-rule="freezer-alarm"] td').allTextContents();
    const { stateBytes } = await t.rule("freezer-alarm");
    assert.ok(stateBytes > 2, "the alarm's state holds the raised key");
    assert.equal(cells, ["freezer-alarm", "v1", "running", "caught up", "1", "0", "1", `${stateBytes} B`, "0", ""]);
    await page.waitForFunction('document.querySelectorAll("#alerts li").length === 1', undefined, { timeout: BROWSER_WAIT_MS });
    assert.match(await page.locator("#alerts li").first().textContent() ?? "", /freezer-alarm raised warm:freezer-1 — freezer-1 is at -10 °C \(above -15 °C\)$/);
    assert.equal(errors, []);
  } finally {
    await browser?.close();
    await t.done();
  }
});

test.run();
