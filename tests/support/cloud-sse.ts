/*
 * A minimal Server-Sent Events reader over node:http, for asserting exactly
 * which events (and ids) the cloud sends.
 */
import { request, type IncomingMessage } from "node:http";
import { waitFor, within } from "./test-helpers.js";

export interface SseEvent {
  id: string | undefined;
  data: string;
}

export class SseReader {
  readonly events: SseEvent[] = [];
  readonly response: IncomingMessage;
  #buffer = "";

  private constructor(response: IncomingMessage) {
    this.response = response;
    response.setEncoding("utf8");
    response.on("data", (chunk: string) => {
      this.#buffer += chunk;
      let end: number;
      while ((end = this.#buffer.indexOf("\n\n")) >= 0) {
        const block = this.#buffer.slice(0, end);
        this.#buffer = this.#buffer.slice(end + 2);
        let id: string | undefined;
        const data: string[] = [];
        for (const line of block.split("\n")) {
          if (line.startsWith("id: ")) id = line.slice(4);
          else if (line.startsWith("data: ")) data.push(line.slice(6));
        }
        if (data.length > 0) this.events.push({ id, data: data.join("\n") });
      }
    });
  }

  static async open(url: string, headers: Record<string, string> = {}): Promise<SseReader> {
    const response = await within(
      `SSE response from ${url}`,
      new Promise<IncomingMessage>((resolve, reject) => request(url, { headers }, resolve).on("error", reject).end()),
    );
    return new SseReader(response);
  }

  async next(count: number): Promise<SseEvent[]> {
    await waitFor(`${count} SSE events (have ${this.events.length})`, () => this.events.length >= count);
    return this.events.slice(0, count);
  }

  close(): void {
    this.response.destroy();
  }
}
