/*
 * A damaged observations.db, as systemd would meet it: `xsedge gateway`
 * (its command, whose result is the process's exit code) exits 2 (no
 * restart loop) naming the file, and the README's way out
 * works: keep a copy, recover what is readable with the sqlite3 shell into a
 * new store the gateway starts on, or start empty. Every start says what
 * the store holds.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { execFileSync } from "node:child_process";
import { closeSync, mkdirSync, openSync, readdirSync, renameSync, writeSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gatewayCommand } from "../../../hosts/gateway/cli.js";
import { ObservationStore, STORE_FILE } from "../../../hosts/gateway/store/observation-store.js";
import { peerProgram } from "../../support/peer-programs.js";
import { observation, tempDir, waitFor, within } from "../../support/test-helpers.js";

const ROWS = 3000;

/** Runs `xsedge gateway` (its command, in this process) on `dataDir` until it has started, then stops it as SIGTERM would; or until it exits by itself. */
async function gatewayOn(dataDir: string): Promise<{ status: number; stderr: string }> {
  const abort = new AbortController();
  let stderr = "";
  const argv = ["--data-dir", dataDir, "--mqtt-port", "0", "--http-port", "off", "--cloud-target", "127.0.0.1:9", "--log-format", "json"];
  let exited = false;
  const exit = gatewayCommand(argv, { out: () => {}, err: (text) => (stderr += text), signal: abort.signal }, {}).finally(() => (exited = true));
  await waitFor("the gateway to start or exit", () => /gateway started/.test(stderr) || exited, 15_000);
  abort.abort();
  return { status: await within("the gateway to exit", exit, 15_000), stderr };
}

function filledStore(dir: string): void {
  const store = ObservationStore.open(dir);
  for (let seq = 1; seq <= ROWS; seq++) store.append(observation(`s-${seq % 5}`, seq), 1000 + seq);
  store.close();
}

function overwrite(path: string, offset: number, bytes: Buffer): void {
  const fd = openSync(path, "r+");
  writeSync(fd, bytes, 0, bytes.length, offset);
  closeSync(fd);
}

test("a file that is no database: exit 2 (not restarted by systemd), the message names the file and points at the README", async () => {
  const dir = tempDir("damaged-header");
  writeFileSync(join(dir.path, STORE_FILE), Buffer.alloc(8192, "this is not an SQLite database "));
  const run = await gatewayOn(dir.path);
  assert.is(run.status, 2, run.stderr);
  const line = run.stderr.split("\n").find((l) => l.includes("could not start"));
  assert.ok(line, run.stderr);
  const { msg } = JSON.parse(line!);
  assert.ok(msg.includes(join(dir.path, STORE_FILE)), msg);
  assert.match(msg, /is damaged or not an SQLite database \(file is not a database\); the gateway will not start on it\. Keep a copy, then recover what is readable or start empty: see "A damaged store" in the README/);
  dir.remove();
});

test("a damaged page: exit 2 naming the file; the README's recovery (keep a copy, salvage with the sqlite3 shell) gives a store the gateway starts on, and starting empty works too", async () => {
  const dir = tempDir("damaged-page");
  filledStore(dir.path);
  const path = join(dir.path, STORE_FILE);
  // Two pages in the middle of the observations table.
  overwrite(path, 4096 * 20, Buffer.alloc(8192, 0xde));
  const refused = await gatewayOn(dir.path);
  assert.is(refused.status, 2, refused.stderr);
  assert.match(refused.stderr, /observations\.db is damaged or not an SQLite database \(database disk image is malformed\)/);

  // The README: keep a copy (the WAL too), then salvage into a new store with the sqlite3 shell.
  const damaged = join(dir.path, "damaged");
  mkdirSync(damaged);
  for (const file of readdirSync(dir.path).filter((f) => f.startsWith(STORE_FILE))) renameSync(join(dir.path, file), join(damaged, file));
  const sqlite3 = peerProgram("sqlite3");
  const copy = join(damaged, STORE_FILE);
  const dump = execFileSync(sqlite3, [copy, ".dump"], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  execFileSync(sqlite3, [path], { input: dump.replace(/^ROLLBACK; -- due to errors$/m, "COMMIT;") });
  const version = execFileSync(sqlite3, [copy, "PRAGMA user_version"], { encoding: "utf8" }).trim();
  execFileSync(sqlite3, [path, `PRAGMA user_version = ${version}`]);

  const recovered = await gatewayOn(dir.path);
  assert.is(recovered.status, 0, recovered.stderr);
  const report = /holds (\d+) observations \((\d+) not yet relayed\), last id (\d+); WAL (\d+) bytes/.exec(recovered.stderr);
  assert.ok(report, recovered.stderr);
  const held = Number(report![1]);
  assert.ok(held > ROWS * 0.9 && held < ROWS, `${held} of ${ROWS} rows salvaged (two pages lost)`);
  assert.is(Number(report![2]), held, "all of them still to relay");

  // Starting empty: the damaged store moved aside, a new one is made.
  for (const file of readdirSync(dir.path).filter((f) => f.startsWith(STORE_FILE))) renameSync(join(dir.path, file), join(damaged, `salvaged-${file}`));
  const empty = await gatewayOn(dir.path);
  assert.is(empty.status, 0, empty.stderr);
  assert.match(empty.stderr, /holds 0 observations \(0 not yet relayed\), last id 0; WAL \d+ bytes/);
  dir.remove();
});

test.run();
