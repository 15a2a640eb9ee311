/*
 * The gateway's UDP listener fuzzed through a real socket: raw bytes,
 * mutated Postcard TemperatureUpdated messages and mutated CBOR records,
 * from registered and unknown sensors. Each datagram is received and
 * handled exactly once: stored (or a duplicate, or an anchor), or refused
 * with a reason, a field and a detail, and quarantined; never "failed"
 * (which would mean an error the decoders did not turn into a refusal).
 * Honest datagrams keep being stored throughout; the heap stays bounded.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { startGateway } from "../../hosts/gateway/gateway.js";
import { StaticRegistry } from "../../hosts/gateway/ingest/sensor-registry.js";
import { encodeTemperatureUpdated } from "../../hosts/gateway/ingest/udp/postcard.js";
import { createMemoryLogger } from "../../hosts/log/logger.js";
import { fc, fuzz, mutatedBytes, summary } from "../support/fuzz.js";
import { memoryConnector } from "../support/gateway-fakes.js";
import { recordInput } from "../support/record-arbitraries.js";
import { tempDir, waitFor, within } from "../support/test-helpers.js";
import { UdpSender } from "../support/udp-sender.js";

const SENSORS = [{ sensorId: "1", secret: "secret-one" }, { sensorId: "300", secret: "secret-300" }, { sensorId: "fz-1", secret: "secret-fz-1" }];

const postcard = fc
  .record({ devAddr: fc.oneof(fc.constantFrom(1, 300, 7), fc.nat({ max: 0xffffffff })), temperature: fc.nat({ max: 0xffffffff }) })
  .map(encodeTemperatureUpdated);

const datagram: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.uint8Array({ maxLength: 300 }),
  postcard,
  mutatedBytes(postcard),
  recordInput(fc.constantFrom("1", "fz-1", "not-registered")),
);

test("any datagram: handled once, stored or refused with a reason and quarantined, never an unhandled error", async () => {
  const dir = tempDir("fuzz-udp");
  const gateway = await startGateway({
    mqttPort: 0, httpPort: null, udpPort: 0, dataDir: dir.path, connector: memoryConnector(), logger: createMemoryLogger("gateway"),
    relayIntervalMs: 50, registry: new StaticRegistry(SENSORS),
    // The per-source limit is its own test's subject (udp-limits.test.ts); here every datagram must reach the decoders.
    udpSourceLimit: { capacity: 1_000_000, refillPerSecond: 1_000_000 },
  });
  const sender = await UdpSender.open(gateway.udpPort!);
  const udp = () => gateway.stats().udp!;
  const outcomes = () => { const c = udp(); return c.stored + c.duplicate + c.anchors + c.refused + c.perSourceLimited + c.failed; };
  const reached = { stored: 0, refused: 0 };
  try {
    await fuzz("UDP listener", datagram, async (bytes) => {
      const before = udp();
      const handledBefore = outcomes();
      const quarantinedBefore = gateway.store.counts().rejected;
      await sender.send(bytes);
      await waitFor("the datagram to be received", () => udp().datagrams === before.datagrams + 1);
      const after = udp();
      assert.is(after.failed, before.failed, `datagram ${Buffer.from(bytes).toString("hex")} failed: an error no decoder turned into a refusal`);
      assert.is(after.perSourceLimited, before.perSourceLimited);
      assert.ok(outcomes() > handledBefore, "the datagram has an outcome");
      if (after.refused > before.refused) {
        reached.refused++;
        assert.ok(gateway.store.counts().rejected > quarantinedBefore, "a refused datagram is quarantined");
        const row = gateway.store.rejected(1)[0];
        assert.ok(row.reason && row.detail && row.detail.length > 0, `the quarantine row says why: ${JSON.stringify(row)}`);
      }
      if (after.stored > before.stored) reached.stored++;
      // The examples run first: one stored, one refused, however few runs the budget allows.
    }, { budgetMs: 4000, minRuns: 20, runTimeoutMs: 4000, examples: [encodeTemperatureUpdated({ devAddr: 300, temperature: 20 }), Uint8Array.from([0xff])] });
    assert.ok(reached.stored > 0 && reached.refused > 0, `both outcomes reached: ${JSON.stringify(reached)}`);
    // Still serving: the sample's message from sensor 1 is stored.
    const stored = udp().stored;
    await sender.send(encodeTemperatureUpdated({ devAddr: 1, temperature: 21 }));
    await waitFor("an honest datagram stored", () => udp().stored === stored + 1);
  } finally {
    await sender.close();
    await within("gateway close", gateway.close());
    dir.remove();
  }
});

test.after(() => {
  for (const line of summary()) console.log(`  ${line}`);
});

test.run();
