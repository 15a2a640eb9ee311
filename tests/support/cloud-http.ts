/*
 * JSON requests to the reference cloud, returning status and parsed body;
 * as an admin unless `token` says otherwise (null: no credential).
 */
import { ADMIN_TOKEN } from "./cloud-access.js";

export interface JsonAnswer {
  status: number;
  body: Record<string, unknown>;
  text: string;
}

export async function call(base: string, method: string, path: string, body?: unknown, raw?: string, token: string | null = ADMIN_TOKEN): Promise<JsonAnswer> {
  const response = await fetch(base + path, {
    method,
    headers: {
      ...(body !== undefined || raw !== undefined ? { "content-type": "application/json" } : {}),
      ...(token === null ? {} : { authorization: `Bearer ${token}` }),
    },
    body: raw ?? (body === undefined ? undefined : JSON.stringify(body)),
    signal: AbortSignal.timeout(4000),
  });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {}, text };
}
