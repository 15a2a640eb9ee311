/*
 * /metrics as Prometheus itself judges it: Debian's promtool (`promtool
 * check metrics`) on the exposition of a gateway with every section of its
 * stats present (an external mosquitto, UDP, the Akka cloud link and the
 * Akka registration stream), after traffic.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { startGateway } from "../../../hosts/gateway/gateway.js";
import { createAkkaGrpcConnector } from "../../../hosts/gateway/relay/connectors/akka-grpc.js";
import { createMemoryLogger } from "../../../hosts/log/logger.js";
import { FakeEventConsumer } from "../../support/fake-event-consumer.js";
import { FakeEventProducer, registered } from "../../support/fake-event-producer.js";
import { at } from "../../support/akka-registrations.js";
import { Mosquitto } from "../../support/mosquitto.js";
import { peerProgram } from "../../support/peer-programs.js";
import { tempDir, waitFor, within } from "../../support/test-helpers.js";

const GATEWAY = { username: "xsedge-gateway", password: "gateway-secret-1" };

function promtool(text: string): { status: number | null; output: string } {
  const result = spawnSync(peerProgram("promtool"), ["check", "metrics"], { input: text, encoding: "utf8" });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

test("promtool check metrics passes on the gateway's /metrics, every section present; it does fail a misnamed metric", async () => {
  const dir = tempDir("promtool");
  let broker: Mosquitto | undefined;
  const consumer = await FakeEventConsumer.start();
  const producer = await FakeEventProducer.start();
  producer.append(registered("s-1", 1, "secret-of-s-1", at(1)));
  const connector = createAkkaGrpcConnector({ target: consumer.target, logger: createMemoryLogger("akka") });
  let gateway: Awaited<ReturnType<typeof startGateway>> | undefined;
  try {
    broker = await Mosquitto.start([GATEWAY]);
    gateway = await startGateway({
      dataDir: dir.path, httpPort: 0, udpPort: 0, connector, logger: createMemoryLogger("gateway"),
      externalBroker: { url: broker.url, ...GATEWAY },
      registrationLink: { transport: "akka-grpc", target: producer.target },
    });
    await waitFor("the registration", () => gateway!.registry.isRegistered("s-1"));
    const text = await (await fetch(`http://127.0.0.1:${gateway.httpPort}/metrics`)).text();
    for (const section of ["xsedge_external_broker_messages_total", "xsedge_udp_datagrams_total", "xsedge_registration_stream_state", "xsedge_cloud_link_connected", "process_resident_memory_bytes", "nodejs_active_handles"]) {
      assert.ok(text.includes(`# TYPE ${section} `), `${section} is exposed`);
    }
    const checked = promtool(text);
    assert.is(checked.status, 0, checked.output);
    // The checker is not a rubber stamp: the gauge prom-client misnames is refused.
    const misnamed = promtool(`${text}# HELP nodejs_active_handles_total x\n# TYPE nodejs_active_handles_total gauge\nnodejs_active_handles_total 1\n`);
    assert.is.not(misnamed.status, 0);
    assert.match(misnamed.output, /nodejs_active_handles_total non-counter metrics should not have "_total" suffix/);
  } finally {
    await within("gateway close", gateway?.close() ?? Promise.resolve());
    await connector.close();
    await broker?.remove();
    await consumer.close();
    await producer.close();
    dir.remove();
  }
});

test.run();
