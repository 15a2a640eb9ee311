/*
 * The local API's routes for messages to devices (hosts/gateway/downlink):
 *
 *   POST /api/v1/downlinks   {sensorId, settings: {key: value, ...}} or
 *                            {sensorId, command, arg?}, optional ttlSeconds
 *                            → 202 {downlink}: queued, and sent if the device is connected
 *   GET  /api/v1/downlinks?sensorId=&limit=   newest first, with their state
 *   GET  /api/v1/downlinks?id=                one request
 *
 * A bad body is a 400 naming the field; an unknown sensor 404; a device
 * with MAX_WAITING_PER_SENSOR requests waiting 429; a gateway without the
 * embedded broker (an external one) 503: it has no way to the devices.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { HttpError, readJson, sendJson } from "../../http/http-json.js";
import { SENSOR_ID_PATTERN } from "../../../modules/observation/record.js";
import { MAX_SETTINGS_PER_MESSAGE, type SettingValue } from "../../../modules/downlink/messages.js";
import { DownlinkRefusal, MAX_TTL_MS, type DownlinkDispatcher, type Request } from "../downlink/dispatcher.js";
import { checkParams, intValue, sensorIdValue } from "./query.js";

/** A request to a device is a few settings: 16 KB is plenty and bounds what is buffered. */
export const MAX_DOWNLINK_BODY_BYTES = 16 * 1024;
export const DEFAULT_DOWNLINKS_LIMIT = 100;
const LIMIT_RANGE = { min: 1, max: 1000 };
const ID_RANGE = { min: 1, max: Number.MAX_SAFE_INTEGER };

type Handler = (req: IncomingMessage, res: ServerResponse, params: URLSearchParams) => Promise<void> | void;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const isValue = (v: unknown): v is SettingValue => typeof v === "number" || typeof v === "string" || typeof v === "boolean";

/** The request a POST body stands for, or a 400 naming the field. */
export function parseDownlinkBody(body: unknown): { sensorId: string; request: Request; ttlMs: number | undefined } {
  if (!isObject(body)) throw new HttpError(400, "body must be an object {sensorId, settings} or {sensorId, command, arg?}");
  const { sensorId, settings, command, arg, ttlSeconds } = body;
  for (const key of Object.keys(body)) {
    if (!["sensorId", "settings", "command", "arg", "ttlSeconds"].includes(key)) throw new HttpError(400, `unknown field "${key}"`);
  }
  if (typeof sensorId !== "string" || !SENSOR_ID_PATTERN.test(sensorId)) throw new HttpError(400, "sensorId must be 1 to 64 letters, digits or . _ : -");
  let ttlMs: number | undefined;
  if (ttlSeconds !== undefined) {
    if (typeof ttlSeconds !== "number" || !Number.isInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds * 1000 > MAX_TTL_MS) {
      throw new HttpError(400, `ttlSeconds must be an integer from 1 to ${MAX_TTL_MS / 1000}`);
    }
    ttlMs = ttlSeconds * 1000;
  }
  if ((settings === undefined) === (command === undefined)) throw new HttpError(400, "give either settings or command");
  if (settings !== undefined) {
    if (arg !== undefined) throw new HttpError(400, "arg goes with command");
    if (!isObject(settings)) throw new HttpError(400, "settings must be an object {key: value}");
    const entries = Object.entries(settings);
    if (entries.length === 0 || entries.length > MAX_SETTINGS_PER_MESSAGE) throw new HttpError(400, `settings must have 1 to ${MAX_SETTINGS_PER_MESSAGE} keys`);
    for (const [key, value] of entries) if (!isValue(value)) throw new HttpError(400, `settings.${key} must be a number, text, true or false`);
    return { sensorId, request: { kind: "set", settings: entries as Array<[string, SettingValue]> }, ttlMs };
  }
  if (typeof command !== "string") throw new HttpError(400, "command must be a command's name");
  if (arg !== undefined && !isValue(arg)) throw new HttpError(400, "arg must be a number, text, true or false");
  return { sensorId, request: { kind: "command", name: command, ...(arg === undefined ? {} : { arg }) }, ttlMs };
}

const STATUS = { "not-registered": 404, invalid: 400, "too-many": 429 } as const;

export function downlinkRoutes(dispatcher: () => DownlinkDispatcher | undefined): Record<string, Partial<Record<string, Handler>>> {
  const available = (): DownlinkDispatcher => {
    const d = dispatcher();
    if (!d) throw new HttpError(503, "messages to devices need the gateway's embedded MQTT broker (not an external one)");
    return d;
  };
  return {
    "/api/v1/downlinks": {
      POST: async (req, res, params) => {
        checkParams(params, []);
        const d = available();
        const { sensorId, request, ttlMs } = parseDownlinkBody(await readJson(req, MAX_DOWNLINK_BODY_BYTES));
        try {
          sendJson(res, 202, { downlink: d.submit(sensorId, request, ttlMs) });
        } catch (e) {
          if (e instanceof DownlinkRefusal) throw new HttpError(STATUS[e.reason], e.message);
          throw e;
        }
      },
      GET: (_req, res, params) => {
        checkParams(params, ["sensorId", "limit", "id"]);
        const d = available();
        const rawId = params.get("id");
        if (rawId !== null) {
          if (params.has("sensorId") || params.has("limit")) throw new HttpError(400, "id goes alone");
          const record = d.get(intValue("id", rawId, ID_RANGE, 0));
          if (!record) throw new HttpError(404, `no downlink ${rawId}`);
          return sendJson(res, 200, { downlinks: [record] });
        }
        const limit = intValue("limit", params.get("limit"), LIMIT_RANGE, DEFAULT_DOWNLINKS_LIMIT);
        sendJson(res, 200, { downlinks: d.list(limit, sensorIdValue(params)) });
      },
    },
  };
}
