/*
 * The progress of a run: a bar redrawn in place on a terminal, or a line
 * every tenth of the way when the output is a file or a pipe.
 */
import { formatDuration } from "./yaml-fields.js";

const WIDTH = 30;

/** The bar's text for `at` of `total` (scenario ms), after `wallMs` of running. */
export function progressText(at: number, total: number, wallMs: number): string {
  const share = total > 0 ? Math.min(1, Math.max(0, at / total)) : 1;
  const filled = Math.round(share * WIDTH);
  const speed = wallMs > 0 ? ` (${(at / wallMs).toFixed(at / wallMs >= 10 ? 0 : 1)}× real time)` : "";
  const seconds = (ms: number) => formatDuration(Math.round(ms / 1000) * 1000);
  return `[${"#".repeat(filled)}${"-".repeat(WIDTH - filled)}] ${(share * 100).toFixed(0).padStart(3)}%  ${seconds(at)} of ${seconds(total)}${speed}`;
}

export class ProgressBar {
  readonly #write: (text: string) => void;
  readonly #tty: boolean;
  readonly #started = Date.now();
  #lastTenth = -1;
  #drawn = false;

  constructor(write: (text: string) => void, tty: boolean) {
    this.#write = write;
    this.#tty = tty;
  }

  update(at: number, total: number): void {
    const text = progressText(at, total, Date.now() - this.#started);
    if (this.#tty) {
      this.#write(`\r${text}`);
      this.#drawn = true;
      return;
    }
    const tenth = total > 0 ? Math.floor((10 * at) / total) : 10;
    if (tenth > this.#lastTenth) {
      this.#lastTenth = tenth;
      this.#write(`${text}\n`);
    }
  }

  done(): void {
    if (this.#drawn) this.#write("\n");
  }
}
