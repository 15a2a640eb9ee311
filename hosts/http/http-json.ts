/*
 * JSON over node:http, shared by the reference cloud and the gateway's local
 * API: reading a bounded body, writing an answer, and the one error type that
 * carries a status.
 */
import type { IncomingMessage, ServerResponse } from "node:http";

/** Largest request body accepted: a gateway batch of 100 is about 15 kB, so 1 MiB is generous. */
export const MAX_BODY_BYTES = 1024 * 1024;

/** An error that is the client's to fix; the server answers `status` with `{error}` and `headers`. */
export class HttpError extends Error {
  readonly status: number;
  readonly headers: Record<string, string>;
  /**
   * Already counted and logged (throttled) where it was decided, as a refused
   * credential is: the server's catch-all must not log it again, once per request.
   */
  readonly logged: boolean;
  constructor(status: number, message: string, headers: Record<string, string> = {}, logged = false) {
    super(message);
    this.name = "HttpError";
    this.status = status;
    this.headers = headers;
    this.logged = logged;
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** Reads and parses a JSON body, refusing one over `limit` bytes with 413 and a bad one with 400. */
export async function readJson(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<unknown> {
  const declared = Number(req.headers["content-length"]);
  const tooLarge = () => new HttpError(413, `request body over the ${limit}-byte limit (MAX_BODY_BYTES)`);
  if (declared > limit) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.byteLength;
    if (size > limit) throw tooLarge();
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString("utf8");
  if (text.length === 0) throw new HttpError(400, "request body is empty; expected JSON");
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new HttpError(400, `request body is not valid JSON: ${(e as Error).message}`);
  }
}
