/*
 * Shared by the Akka registration consumer's tests: a consumer on a fresh or
 * reopened projection, pointed at a fake producer, with short retry delays.
 */
import * as assert from "uvu/assert";
import { AkkaRegistrationConsumer, type RegistrationConsumerOptions } from "../../hosts/gateway/registrations/akka/consumer.js";
import { RegistrationProjection } from "../../hosts/gateway/registrations/projection.js";
import { createMemoryLogger } from "../../hosts/log/logger.js";
import { waitFor } from "./test-helpers.js";

export type MemoryLogger = ReturnType<typeof createMemoryLogger>;

/** µs since the epoch of a test event: 2023-11-14 plus `n` seconds, so timestamps order like n. */
export const at = (n: number): number => 1_700_000_000_000_000 + n * 1_000_000;

export interface ConsumerUnderTest {
  consumer: AkkaRegistrationConsumer;
  projection: RegistrationProjection;
  logger: MemoryLogger;
  close(): Promise<void>;
}

export function startConsumer(dataDir: string, target: string, options: Partial<RegistrationConsumerOptions> = {}): ConsumerUnderTest {
  const projection = RegistrationProjection.open(dataDir);
  const logger = createMemoryLogger("registrations");
  const consumer = new AkkaRegistrationConsumer({ target, projection, logger, retryInitialMs: 50, retryMaxMs: 200, ...options });
  consumer.start();
  return {
    consumer,
    projection,
    logger,
    async close() {
      await consumer.close();
      projection.close();
    },
  };
}

export async function untilVerified(under: ConsumerUnderTest, secrets: Record<string, string>): Promise<void> {
  await waitFor(`the projection to accept ${Object.keys(secrets).join(", ")}`, () =>
    Object.entries(secrets).every(([id, secret]) => under.projection.verify(id, secret) === "ok"),
  );
}

/** Fails the test if a log line or the stats hold one of `secrets`. */
export function assertNoSecrets(under: ConsumerUnderTest, secrets: string[]): void {
  const logs = JSON.stringify(under.logger.lines);
  const stats = JSON.stringify(under.consumer.stats());
  for (const secret of secrets) {
    assert.not.ok(logs.includes(secret), `a log line holds secret ${secret}`);
    assert.not.ok(stats.includes(secret), `the stats hold secret ${secret}`);
  }
}

export function warnings(under: ConsumerUnderTest): string[] {
  return under.logger.lines.filter((l) => l.level === "warn").map((l) => String(l.msg));
}
