/*
 * The real path of a firmware developer: this repository packed with `npm
 * pack` (what a registry would serve), `xsedge new`, `npm install` of the
 * project against the tarball, its `npm run build`, and `xsedge up --app .`
 * from the installed package, with a setting changed through `xsedge device`.
 *
 * The install uses npm's cache (--offline; --prefer-offline, which reaches
 * the npm registry for what the cache lacks, only when the cache is cold)
 * and skips install scripts: the two native parts (better-sqlite3's addon,
 * @agoric/xsnap's xsnap-worker) are copied from this repository's own
 * node_modules, the same versions built on this machine, rather than
 * compiled again for minutes.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { execFile, spawn } from "node:child_process";
import { cpSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { REPO } from "../support/app-project.js";
import { freePort, tempDir, waitFor } from "../support/test-helpers.js";

const run = promisify(execFile);
const NATIVE = [
  ["better-sqlite3", "build"],
  ["@agoric/xsnap", "xsnap-native/xsnap/build"],
] as const;
const version = (dir: string) => (JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { version: string }).version;

async function npmInstall(cwd: string): Promise<void> {
  const args = ["install", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"];
  try {
    await run("npm", [...args, "--offline"], { cwd, timeout: 120_000 });
  } catch (e) {
    if (!/ENOTCACHED/.test(String((e as { stderr?: string }).stderr))) throw e;
    await run("npm", [...args, "--prefer-offline"], { cwd, timeout: 120_000 });
  }
}

test("xsedge new, installed against the packed repository, builds and runs on XS with a gateway and a cloud", async () => {
  const dir = tempDir("pack");
  const app = join(dir.path, "greenhouse");
  let up: ReturnType<typeof spawn> | undefined;
  try {
    await run("npm", ["pack", "--ignore-scripts", "--pack-destination", dir.path, "--loglevel=error"], { cwd: REPO, timeout: 60_000 });
    const tarball = join(dir.path, readdirSync(dir.path).find((f) => f.endsWith(".tgz"))!);
    await run(process.execPath, [join(REPO, "dist/hosts/cli/xsedge.js"), "new", app, "--xsedge", `file:${tarball}`]);
    assert.equal(readdirSync(app).sort(), [".gitignore", "README.md", "manifest.json", "package.json", "sim", "src", "tsconfig.json"]);
    await npmInstall(app);
    const installed = join(app, "node_modules", "xsedge");
    assert.ok(!readdirSync(installed).includes("tests") && !readdirSync(join(installed, "dist")).includes("tests"), "the package carries no tests");
    for (const [name, path] of NATIVE) {
      assert.is(version(join(app, "node_modules", name)), version(join(REPO, "node_modules", name)), `${name}: the version built here`);
      cpSync(join(REPO, "node_modules", name, path), join(app, "node_modules", name, path), { recursive: true });
    }
    await run("npm", ["run", "build", "--silent"], { cwd: app, timeout: 60_000 });
    const bundle = readFileSync(join(app, "build/moddable/main.js"), "utf8");
    assert.match(bundle, /^import TMP117 from 'embedded:sensor\/Temperature\/TMP117';$/m, "the SDK's driver stays an import");
    assert.match(bundle, /^export \{ main as default \};$/m);
    assert.not.match(bundle, /sourceMappingURL/);

    const http = await freePort();
    up = spawn(process.execPath, [join(app, "node_modules/.bin/xsedge"), "up", "--app", ".", "--no-build", "--devices", "1", "--mqtt-port", "0", "--http-port", String(http), "--cloud-port", "0", "--cloud-grpc-port", "0", "--data-dir", join(dir.path, "data"), "--batch-age", "0"], {
      cwd: app, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, MODDABLE: "" },
    });
    let stdout = "";
    let stderr = "";
    up.stdout!.on("data", (d) => (stdout += d));
    up.stderr!.on("data", (d) => (stderr += d));
    await waitFor("the cloud to receive sim-1's temperatures", () => /sim-1 .*temperature \d+\.\d\d Cel/.test(stdout), 60_000).catch((e: Error) => {
      throw new Error(`${e.message}\n${stdout}\n${stderr}`);
    });
    // The simulated air follows the time of day (26 ± 8 °C on the UTC clock), so the alarm may start either way.
    const first = /sim-1 .*alarm (0|1)\.00 \//.exec(stdout);
    assert.ok(first, `the alarm's first state reaches the cloud:\n${stdout}`);
    // A limit the air never reaches flips it: at -40 the alarm rises, at 125 it clears.
    const [limit, flipped] = first[1] === "0" ? ["-40", "1"] : ["125", "0"];
    const { stdout: set } = await run(join(app, "node_modules/.bin/xsedge"), ["device", "set", "sim-1", `alarmCelsius=${limit}`, "--wait", "30", "--gateway", `http://127.0.0.1:${http}`], { cwd: app, timeout: 60_000 });
    assert.match(set, new RegExp(`\\(set alarmCelsius=${limit}\\): applied`));
    await waitFor(`the alarm at ${flipped}`, () => new RegExp(`sim-1 .*alarm ${flipped}\\.00 /`).test(stdout), 20_000);
    up.kill("SIGINT");
    const code = await new Promise<number | null>((resolve) => up!.once("close", resolve));
    assert.is(code, 0, stderr);
    assert.match(stdout, /stopped: the gateway holds \d+ observations/);
  } finally {
    if (up && up.exitCode === null) up.kill("SIGKILL");
    dir.remove();
  }
});

test.run();
