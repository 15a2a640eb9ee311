/*
 * The local API's rule routes (added to server.ts's route table, so they
 * pass through whatever guards it puts on every route):
 *
 *   GET  /api/v1/rules                          every rule: version, state, lag, counters, last error
 *   POST /api/v1/rules            {source, file?}  deploy: type-check, bundle, self-test, hand over (201; 200 if unchanged)
 *   GET  /api/v1/rules/detail?name=             one rule with its versions (hash, time, status), active source and state
 *   POST /api/v1/rules/disable    {name}
 *   POST /api/v1/rules/enable     {name}
 *   POST /api/v1/rules/rollback   {name, version?}  run an earlier version again (the previous one by default)
 *   GET  /api/v1/rules/alerts?after=&limit=     alerts from the outbox (newest first; with after, oldest first after that id)
 *   GET  /api/v1/rules/alerts/stream?after=     alerts as Server-Sent Events, resumable
 *
 * Errors are JSON {error} (a failed type-check adds {diagnostics}): 400 for
 * a bad request or a rule that does not type-check, 404 for an unknown
 * rule, 409 while another deploy runs, 413 for a body over
 * MAX_RULE_REQUEST_BYTES, 422 for a rule that fails to load or its
 * self-test (the running version stays), 503 when rules are off.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { HttpError, readJson, sendJson } from "../../http/http-json.js";
import { RULE_NAME_PATTERN } from "../rules/xs/protocol.js";
import { MAX_RULE_SOURCE_BYTES } from "../rules/rule-build.js";
import { RuleDeployError, type RuleEngine } from "../rules/rule-engine.js";
import type { ObservationStore } from "../store/observation-store.js";
import { alertMessage } from "../rules/alerts/alert-message.js";
import type { AlertStream } from "./alert-stream.js";
import { checkParams, intValue } from "./query.js";

/** A deploy's JSON body: the source (escaped, up to twice its size in the worst case) and a little more. */
export const MAX_RULE_REQUEST_BYTES = 2 * MAX_RULE_SOURCE_BYTES + 4096;
const DEFAULT_ALERTS_LIMIT = 100;
const ALERTS_LIMIT = { min: 1, max: 1000 };
const ID_RANGE = { min: 0, max: Number.MAX_SAFE_INTEGER };

type Handler = (req: IncomingMessage, res: ServerResponse, params: URLSearchParams) => Promise<void> | void;

function ruleName(value: unknown): string {
  if (typeof value !== "string" || !RULE_NAME_PATTERN.test(value)) throw new HttpError(400, "name must be a rule's name (lower-case letters, digits and -)");
  return value;
}

async function body(req: IncomingMessage, allowed: readonly string[], limit = 4096): Promise<Record<string, unknown>> {
  const value = await readJson(req, limit);
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new HttpError(400, "the body must be a JSON object");
  for (const key of Object.keys(value)) if (!allowed.includes(key)) throw new HttpError(400, `unknown field "${key}"; expected ${allowed.join(", ")}`);
  return value as Record<string, unknown>;
}

/** Runs an engine call, answering its RuleDeployError with its status (and a type-check's diagnostics). */
async function answer(res: ServerResponse, work: () => Promise<{ status: number; body: unknown }>): Promise<void> {
  try {
    const { status, body: result } = await work();
    sendJson(res, status, result);
  } catch (e) {
    if (!(e instanceof RuleDeployError)) throw e;
    sendJson(res, e.status, e.diagnostics ? { error: e.message, diagnostics: e.diagnostics } : { error: e.message });
  }
}

export function ruleRoutes(getRules: () => RuleEngine | undefined, store: ObservationStore, alerts: AlertStream): Record<string, Partial<Record<string, Handler>>> {
  const rules = (): RuleEngine => {
    const engine = getRules();
    if (!engine) throw new HttpError(503, "rules are off on this gateway (rules: null in its configuration)");
    return engine;
  };
  return {
    "/api/v1/rules": {
      GET: (_req, res, params) => {
        checkParams(params, []);
        sendJson(res, 200, { rules: rules().list() });
      },
      POST: async (req, res, params) => {
        checkParams(params, []);
        const engine = rules();
        const { source, file } = await body(req, ["source", "file"], MAX_RULE_REQUEST_BYTES);
        await answer(res, async () => {
          const outcome = await engine.deploy(source, file);
          return { status: outcome.outcome === "deployed" ? 201 : 200, body: outcome };
        });
      },
    },
    "/api/v1/rules/detail": {
      GET: (_req, res, params) => {
        checkParams(params, ["name"]);
        const name = ruleName(params.get("name"));
        const found = rules().show(name);
        if (!found) throw new HttpError(404, `no rule "${name}"`);
        sendJson(res, 200, found);
      },
    },
    "/api/v1/rules/disable": {
      POST: async (req, res, params) => {
        checkParams(params, []);
        const engine = rules();
        const { name } = await body(req, ["name"]);
        await answer(res, async () => ({ status: 200, body: { rule: await engine.disable(ruleName(name)) } }));
      },
    },
    "/api/v1/rules/enable": {
      POST: async (req, res, params) => {
        checkParams(params, []);
        const engine = rules();
        const { name } = await body(req, ["name"]);
        await answer(res, async () => ({ status: 200, body: { rule: engine.enable(ruleName(name)) } }));
      },
    },
    "/api/v1/rules/rollback": {
      POST: async (req, res, params) => {
        checkParams(params, []);
        const engine = rules();
        const { name, version } = await body(req, ["name", "version"]);
        if (version !== undefined && !(typeof version === "number" && Number.isInteger(version) && version >= 1)) throw new HttpError(400, "version must be a positive integer");
        await answer(res, async () => {
          const outcome = await engine.rollback(ruleName(name), version as number | undefined);
          return { status: 201, body: outcome };
        });
      },
    },
    "/api/v1/rules/alerts": {
      GET: (_req, res, params) => {
        checkParams(params, ["after", "limit"]);
        if (!store.isOpen) throw new HttpError(503, "the store is closed (the gateway is stopping or has failed)");
        const limit = intValue("limit", params.get("limit"), ALERTS_LIMIT, DEFAULT_ALERTS_LIMIT);
        const after = params.get("after");
        const records = after === null ? store.alerts.newest(limit) : store.alerts.after(intValue("after", after, ID_RANGE, 0), limit);
        sendJson(res, 200, { alerts: records.map(alertMessage) });
      },
    },
    "/api/v1/rules/alerts/stream": {
      GET: (req, res, params) => {
        if (!store.isOpen) throw new HttpError(503, "the store is closed (the gateway is stopping or has failed)");
        alerts.open(req, res, params);
      },
    },
  };
}
