/*
 * The local API's reads of the store as it grows (api-figures.ts measures;
 * this file writes it up).
 */
import { figure, type BenchArea } from "../bench-area.js";
import { LARGE_ROWS, measureApiFigures, SENSORS, SMALL_ROWS, type ApiFigure } from "../api-figures.js";

interface ApiMeasurement {
  calls: ApiFigure[];
  openMs: { small: number; large: number };
}

const fixed = (n: number, digits = 1) => n.toFixed(digits);
const ms = (n: number) => (n < 0.01 ? `${fixed(n * 1000, 1)} µs` : `${fixed(n, 2)} ms`);
/** Calls the dashboard, /metrics and /api/v1 poll; `after(...)` is not polled. */
const polled = (call: string) => !call.includes("after(");

const api: BenchArea<ApiMeasurement> = {
  id: "api",
  order: 50,
  title: "gateway local API: reads on a 1,000 and a 1,000,000-row store",
  measure: () => measureApiFigures(),
  figures(m) {
    return m.calls.filter((f) => polled(f.call)).map((f) =>
      figure(`${f.call} on ${LARGE_ROWS.toLocaleString("en")} rows`, f.largeMs, "ms", { name: `on ${SMALL_ROWS.toLocaleString("en")} rows`, value: f.smallMs }, { atMost: 2 }),
    );
  },
  report(m) {
    const lines = [
      "## Gateway: local API reads as the store grows",
      "",
      `better-sqlite3 is synchronous, so a read the dashboard (every second), /metrics or /api/v1 makes is time the event loop sends no device its PUBACK. Each read timed on a store of ${SMALL_ROWS.toLocaleString("en")} rows and on one of ${LARGE_ROWS.toLocaleString("en")} (${SENSORS} sensors), the gateway's schema: the ratio is the growth. Baseline: the same read on the small store. Opening the store counts it once (the figures are kept in memory after that).`,
      "",
      "| read | small store | large store | large / small | target |",
      "|---|---|---|---|---|",
    ];
    for (const f of m.calls) {
      lines.push(`| \`${f.call}\` | ${ms(f.smallMs)} | ${ms(f.largeMs)} | **${fixed(f.ratio, 1)}** | ${polled(f.call) ? `≤ 2 (no growth) ${f.ratio <= 2 ? "✓" : "✗"}` : "— (not polled; sorts one sensor's rows past the id)"} |`);
    }
    lines.push(`| store open (once per start) | ${ms(m.openMs.small)} | ${ms(m.openMs.large)} | ${fixed(m.openMs.large / m.openMs.small, 0)} | — (one count at start) |`, "");
    return lines;
  },
};

export default api;
