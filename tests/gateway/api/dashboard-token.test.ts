/*
 * The dashboard behind a token, in a real browser: without credentials the
 * page is refused with a Basic challenge (which makes a browser prompt);
 * with the token as the Basic password, as a browser sends it after that
 * prompt, the page, its API calls and its live event stream all work.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { peerProgram } from "../../support/peer-programs.js";
import { chromium, type Browser } from "playwright-core";
import { startApiGateway } from "../../support/gateway-api.js";
import { within } from "../../support/test-helpers.js";

const BROWSER_WAIT_MS = 20_000;
const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const TOKEN = "dashboard-token-0123456789";

test("a browser with the token as its Basic password gets the dashboard and its live stream; without it, a 401 challenge", async () => {
  const t = await startApiGateway(["greenhouse-1"], { httpAccess: { tokens: [TOKEN] } });
  let browser: Browser | undefined;
  try {
    browser = await within("Chromium to start", chromium.launch({ executablePath: peerProgram("chromium"), args: CHROMIUM_ARGS, timeout: BROWSER_WAIT_MS }), BROWSER_WAIT_MS);
    // A headless browser cancels the prompt it would show, so the refusal is read without one.
    const refused = await fetch(t.base + "/");
    assert.is(refused.status, 401);
    assert.match(String(refused.headers.get("www-authenticate")), /^Basic /);
    const context = await browser.newContext({ httpCredentials: { username: "operator", password: TOKEN } });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    const until = (expression: string) => page.waitForFunction(expression, undefined, { timeout: BROWSER_WAIT_MS });
    assert.is((await page.goto(t.base + "/", { timeout: BROWSER_WAIT_MS }))?.status(), 200);
    await until('document.getElementById("stream-state").textContent === "stream: live"');
    await t.publish(await t.device("greenhouse-1"), [1, 2]);
    await until('document.querySelectorAll("#sensors tbody tr").length === 1');
    assert.equal(errors, []);
    assert.is(t.gateway.stats().http.sseClients, 1, "the page's event stream got in");
  } finally {
    await browser?.close();
    await t.done();
  }
});

test.run();
