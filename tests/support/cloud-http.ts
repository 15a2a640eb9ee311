/*
 * JSON requests to the reference cloud, returning status and parsed body.
 */
export interface JsonAnswer {
  status: number;
  body: Record<string, unknown>;
  text: string;
}

export async function call(base: string, method: string, path: string, body?: unknown, raw?: string): Promise<JsonAnswer> {
  const response = await fetch(base + path, {
    method,
    headers: body !== undefined || raw !== undefined ? { "content-type": "application/json" } : {},
    body: raw ?? (body === undefined ? undefined : JSON.stringify(body)),
    signal: AbortSignal.timeout(4000),
  });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {}, text };
}
