/*
 * The rules' share of the gateway's event loop, one piece per turn.
 *
 * Rules run on the loop that reads devices' sockets and writes their
 * PUBACKs, so what matters is not how much rules do but how long the loop
 * is held at a stretch. Every piece of a rule's work done on it (a look at
 * the store and the encoding of a delivery, one rule's commit) waits here
 * for a turn, and at most one runs per turn of the loop: between two pieces
 * the loop polls, so sockets that became readable and fsyncs that
 * completed (the group commit's PUBACKs wait on those) are served before
 * the next rule's piece. A setImmediate per piece would not do: Node runs
 * every immediate queued before its check phase in one go, ten rules'
 * pieces back to back. Each piece is kept small where it is made (rows per
 * read, events per delivery, one rule per commit), measured well under a
 * millisecond on a quiet machine.
 */
import type { Logger } from "../../log/logger.js";

export class LoopTurns {
  readonly #log: Logger;
  readonly #queue: Array<() => void> = [];
  #scheduled = false;

  constructor(logger: Logger) {
    this.#log = logger;
  }

  /** Pieces waiting for their turn. */
  get waiting(): number {
    return this.#queue.length;
  }

  /** Runs `piece` in a turn of its own, after the pieces queued before it. */
  run(piece: () => void): void {
    this.#queue.push(piece);
    this.#schedule();
  }

  /** Resolves in a turn of its own: what the caller does next, up to its next await, is that turn's piece. */
  turn(): Promise<void> {
    return new Promise((resolve) => this.run(resolve));
  }

  #schedule(): void {
    if (this.#scheduled || this.#queue.length === 0) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      const piece = this.#queue.shift()!;
      try {
        piece();
      } catch (error) {
        this.#log.error(`rules: ${(error as Error).message}`, { error });
      }
      // The next piece in the next turn: the loop polls its sockets in between.
      this.#schedule();
    });
  }
}
