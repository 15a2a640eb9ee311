/*
 * What the local API's and /metrics' reads of the store cost as the store
 * grows: each call timed on a store of 1,000 rows and on one of 1,000,000
 * (10 sensors, interleaved as they arrive), and the ratio large / small.
 * better-sqlite3 is synchronous, so whatever these take is time the event
 * loop serves no device's PUBACK; a ratio near 1 means a dashboard on a
 * full 1 GiB store costs what it costs on an empty one.
 *
 *   node dist/bench/api-figures.js
 *
 * The rows are written by SQL into the store's real schema (the store's
 * own API would take minutes for a million at synchronous=FULL); then the
 * store is opened as the gateway opens it.
 */
import Database from "better-sqlite3";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ObservationStore } from "../hosts/gateway/store/observation-store.js";

export interface ApiFigure {
  /** The call, as the API makes it. */
  call: string;
  smallMs: number;
  largeMs: number;
  /** largeMs / smallMs: near 1 when the call does not grow with the store. */
  ratio: number;
}

export const SMALL_ROWS = 1_000;
export const LARGE_ROWS = 1_000_000;
export const SENSORS = 10;
/** Each call is repeated for about this long (at least MIN_REPEATS times) and its median taken. */
const MEASURE_MS = 200;
const MIN_REPEATS = 5;

/** A store in a new directory holding `rows` observations of SENSORS sensors; the oldest 80% relayed, a tenth untimed. */
function buildStore(rows: number): { store: ObservationStore; dir: string; openMs: number } {
  const dir = mkdtempSync(join(tmpdir(), "xsedge-api-figures-"));
  ObservationStore.open(dir).close();
  const db = new Database(join(dir, "observations.db"));
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = OFF");
  const insert = db.prepare(
    `INSERT INTO observations (sensor_id, seq, boot, uptime_ms, time, time_source, readings, received_at, relayed_at)
     VALUES (?, ?, 1, ?, ?, ?, ?, ?, ?)`,
  );
  const readings = JSON.stringify([{ quantity: "temperature", value: 21.5 }, { quantity: "humidity", value: 48.25 }]);
  const start = 1_700_000_000_000;
  db.transaction(() => {
    for (let i = 0; i < rows; i++) {
      const untimed = i % 10 === 9;
      const relayed = i < rows * 0.8;
      insert.run(`sensor-${i % SENSORS}`, Math.floor(i / SENSORS) + 1, i * 1000, untimed ? null : start + i, untimed ? null : "gateway", readings, start + i, relayed ? start + i + 1 : null);
    }
    db.prepare("INSERT INTO clock_anchors VALUES (?, 1, 'gateway', 0, 0, ?, ?)").run("sensor-0", start, start);
    db.prepare("INSERT INTO rejected (received_at, client_id, topic, reason, field, detail, size, raw) VALUES (?, NULL, 't', 'malformed', NULL, 'x', 1, x'00')").run(start);
  })();
  db.close();
  const t0 = performance.now();
  const store = ObservationStore.open(dir);
  return { store, dir, openMs: performance.now() - t0 };
}

/** A sample repeats the call until at least this long has passed: a read of a figure kept in memory takes less than the clock's resolution. */
const MIN_SAMPLE_MS = 0.05;

/** Median milliseconds per call of `work`. */
function time(work: () => unknown): number {
  work();
  const samples: number[] = [];
  const until = performance.now() + MEASURE_MS;
  while (samples.length < MIN_REPEATS || performance.now() < until) {
    const t0 = performance.now();
    let calls = 0;
    let elapsed = 0;
    do {
      work();
      calls++;
      elapsed = performance.now() - t0;
    } while (elapsed < MIN_SAMPLE_MS);
    samples.push(elapsed / calls);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)];
}

/** The calls the API, the dashboard and /metrics make, by name. */
function apiCalls(store: ObservationStore): [string, () => unknown][] {
  const middle = Math.floor(store.queries.latestId() / 2);
  return [
    ["counts()", () => store.counts()],
    ["queries.sensorSummaries()", () => store.queries.sensorSummaries()],
    ["queries.recent(50)", () => store.queries.recent(50)],
    ["queries.recent(50, sensorId)", () => store.queries.recent(50, "sensor-3")],
    ["queries.after(middle, 50, sensorId)", () => store.queries.after(middle, 50, "sensor-3")],
    ["unrelayed(1)", () => store.unrelayed(1)],
  ];
}

/** The figures, and what opening each store took (where the store counts its rows once, and only then). */
export async function measureApiFigures(): Promise<{ calls: ApiFigure[]; openMs: { small: number; large: number } }> {
  const measured: Record<string, number>[] = [];
  const openMs: number[] = [];
  for (const rows of [SMALL_ROWS, LARGE_ROWS]) {
    const { store, dir, openMs: opened } = buildStore(rows);
    openMs.push(opened);
    try {
      measured.push(Object.fromEntries(apiCalls(store).map(([name, work]) => [name, time(work)])));
    } finally {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const [small, large] = measured;
  const calls = Object.keys(small).map((call) => ({ call, smallMs: small[call], largeMs: large[call], ratio: large[call] / small[call] }));
  return { calls, openMs: { small: openMs[0], large: openMs[1] } };
}

export async function apiFigures(): Promise<ApiFigure[]> {
  return (await measureApiFigures()).calls;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { calls: figures, openMs } = await measureApiFigures();
  const ms = (n: number) => n.toFixed(n < 1 ? 4 : 1).padStart(10);
  console.log(`${"call".padEnd(38)} ${`${SMALL_ROWS.toLocaleString("en")} rows`.padStart(13)} ${`${LARGE_ROWS.toLocaleString("en")} rows`.padStart(13)}  ratio`);
  for (const f of figures) console.log(`${f.call.padEnd(38)} ${ms(f.smallMs)} ms ${ms(f.largeMs)} ms  ${f.ratio.toFixed(1)}`);
  console.log(`${"ObservationStore.open() (once per start)".padEnd(38)} ${ms(openMs.small)} ms ${ms(openMs.large)} ms`);
}
