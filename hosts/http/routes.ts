/*
 * Path-and-method routing shared by the gateway's local API and the
 * reference cloud: a table of paths, each with its handlers by method.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { HttpError } from "./http-json.js";

export type RouteTable<Handler> = Record<string, Record<string, Handler>>;

/** The handler for the request's path and method; a 404, or a 405 with its Allow header, otherwise. */
export function findRoute<Handler>(routes: RouteTable<Handler>, req: IncomingMessage, res: ServerResponse): { handler: NonNullable<Handler>; url: URL } {
  const url = new URL(req.url ?? "/", "http://host.invalid");
  const methods = routes[url.pathname];
  if (!methods) throw new HttpError(404, `no route ${req.method} ${url.pathname}`);
  const handler = methods[req.method ?? ""];
  if (!handler) {
    res.setHeader("allow", Object.keys(methods).join(", "));
    throw new HttpError(405, `${url.pathname} does not accept ${req.method}`);
  }
  return { handler: handler as NonNullable<Handler>, url };
}
