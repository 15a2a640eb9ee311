/*
 * The registration stream as an operator sees it: its state, age and idle
 * time in /healthz and /metrics, from a gateway following a real gRPC
 * producer, and the idle recycle set from the gateway's config.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { startGateway } from "../../../hosts/gateway/gateway.js";
import { resolveConfig } from "../../../hosts/gateway/config/resolve.js";
import { toGatewayOptions } from "../../../hosts/gateway/config/gateway-options.js";
import { createMemoryLogger } from "../../../hosts/log/logger.js";
import { FakeEventProducer, registered } from "../../support/fake-event-producer.js";
import { at } from "../../support/akka-registrations.js";
import { memoryConnector } from "../../support/gateway-fakes.js";
import { pollFor } from "../../support/gateway-api.js";
import { tempDir, within } from "../../support/test-helpers.js";

async function get(base: string, path: string): Promise<{ status: number; text: string }> {
  const response = await fetch(base + path);
  return { status: response.status, text: await response.text() };
}

/** The value of one sample line of the exposition text, or undefined. */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(series + " "));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

test("/healthz and /metrics show the registration stream's state, age and idle time; a producer gone shows as retrying with its error", async () => {
  const dir = tempDir("reg-health");
  const producer = await FakeEventProducer.start();
  producer.append(registered("s-1", 1, "secret-of-s-1", at(1)));
  const options = toGatewayOptions((() => {
    const result = resolveConfig({ env: { XSEDGE_GATEWAY_REGISTRATION_TARGET: producer.target, XSEDGE_GATEWAY_REGISTRATION_IDLE_RECYCLE_MS: "1s" } });
    if (!result.ok) throw new Error(result.errors.join("; "));
    return result.config;
  })());
  assert.is(options.registrationLink?.transport === "akka-grpc" && options.registrationLink.idleRecycleMs, 1000, "the config reaches the link");
  const gateway = await startGateway({
    ...options, dataDir: dir.path, mqttPort: 0, httpPort: 0, connector: memoryConnector(), logger: createMemoryLogger("gateway"),
  });
  const base = `http://127.0.0.1:${gateway.httpPort}`;
  try {
    const healthy = await pollFor("the stream connected in /healthz", async () => {
      const answer = await get(base, "/healthz");
      const body = JSON.parse(answer.text);
      return body.registrationStream?.state === "connected" ? { answer, body } : undefined;
    });
    assert.is(healthy.answer.status, 200);
    assert.is(healthy.body.status, "ok");
    assert.ok(typeof healthy.body.registrationStream.streamAgeMs === "number" && typeof healthy.body.registrationStream.idleMs === "number");
    assert.is(healthy.body.registrationStream.downForMs, null);

    const metrics = await pollFor("a recycle in /metrics, and the stream connected again", async () => {
      const { text } = await get(base, "/metrics");
      const recycled = (sample(text, "xsedge_registration_stream_recycles_total") ?? 0) >= 1;
      return recycled && sample(text, 'xsedge_registration_stream_state{state="connected"}') === 1 ? text : undefined;
    });
    assert.is(sample(metrics, "xsedge_registration_connected"), 1);
    assert.ok((sample(metrics, "xsedge_registration_stream_age_seconds") ?? -1) >= 0);
    assert.ok((sample(metrics, "xsedge_registration_stream_idle_seconds") ?? -1) >= 0);

    await producer.close();
    const down = await pollFor("the stream down in /healthz", async () => {
      const body = JSON.parse((await get(base, "/healthz")).text);
      return body.registrationStream?.state !== "connected" && body.registrationStream?.lastError ? body : undefined;
    });
    assert.ok(["retrying", "connecting"].includes(down.registrationStream.state));
    assert.ok(down.registrationStream.downForMs >= 0);
    assert.match(down.registrationStream.lastError, /UNAVAILABLE|CANCELLED/);
    const text = (await get(base, "/metrics")).text;
    assert.is(sample(text, "xsedge_registration_connected"), 0);
    assert.ok((sample(text, "xsedge_registration_stream_down_seconds") ?? -1) >= 0);
  } finally {
    await within("gateway close", gateway.close());
    await producer.close();
    dir.remove();
  }
});

test.run();
