/*
 * The device application. Every sample period it reads the sensor and adds
 * the observation to a batch; a full (or old enough) batch is written as one
 * packed CBOR record into the flash log, and the uplink publishes the oldest
 * unacknowledged records with MQTT QoS 1 to the gateway, releasing each from
 * flash only when the gateway has acknowledged it. Records survive reboots
 * and outages up to the log's size; a power cut loses at most the open batch.
 */
import Timer from "timer";
import Time from "time";
import Flash from "flash";
import TCP from "embedded:io/socket/tcp";
import device from "embedded:provider/builtin";
import Preference from "preference";
import config from "mc/config";
import { MqttClient } from "../mqtt/client.js";
import { MAX_IN_FLIGHT } from "../mqtt/client-options.js";
import { CborWriter } from "../observation/cbor-writer.js";
import { BatchWriter } from "../observation/batch-writer.js";
import { CLOCK_SYNCED_AFTER_MS, MAX_RECORD_BYTES, writeClockAnchor, type Observation, type Reading } from "../observation/record.js";
import { FlashLog } from "../storage/flash-log.js";
import type { SensorOptions } from "../sensors/sensor-io.js";
import { readSettings } from "./settings.js";
import { SequenceLease } from "./sequence-lease.js";
import { openSensor } from "./sensor-reader.js";
import { Uplink } from "./uplink.js";

const PREFERENCE_DOMAIN = "xsedge";
/** MQTT framing around a record: fixed header, topic length, packet id. */
const PUBLISH_OVERHEAD_BYTES = 8;
/** The most readings one sample gives (BME280). */
const MAX_SAMPLE_READINGS = 3;

export const topicFor = (sensorId: string): string => `xsedge/v1/${sensorId}/up`;

export default function main(): void {
  const settings = readSettings(config, Preference);
  const lease = new SequenceLease(Preference, PREFERENCE_DOMAIN);
  const topic = topicFor(settings.sensorId);
  // Monotonic from this boot: on Moddable's desktop simulator Time.ticks counts from 1970.
  const bootTicks = Time.ticks;
  const uptime = () => Time.ticks - bootTicks;

  const log = FlashLog.mount(new Flash(settings.flashPartition), { policy: settings.logPolicy });
  const uplink = new Uplink({ log, topic, maxInFlight: MAX_IN_FLIGHT, maxRecordBytes: MAX_RECORD_BYTES });
  const writer = new CborWriter(MAX_RECORD_BYTES);
  const batch = new BatchWriter(MAX_RECORD_BYTES);
  let batchTimer: Timer | undefined;

  // The plain esp32 host provider names no default I2C bus; the config's pins stand in.
  const bus = device.I2C?.default ?? { data: settings.i2cData ?? 21, clock: settings.i2cClock ?? 22, hz: 100_000 };
  const sensor = openSensor(settings.sensor, {
    ...bus,
    // @moddable/typings omits I2C's close(), which ECMA-419 gives every I/O class and the SDK implements.
    io: device.io.I2C as unknown as SensorOptions["sensor"]["io"],
    ...(settings.sensorAddress === undefined ? {} : { address: settings.sensorAddress }),
  }, (ms) => Timer.delay(ms), (message) => trace(`sensor fault: ${message}\n`));

  const clockSynced = () => Date.now() >= CLOCK_SYNCED_AFTER_MS;
  const client = new MqttClient({
    socket: { io: TCP, address: settings.gatewayAddress, port: settings.gatewayPort },
    clientId: settings.sensorId,
    username: settings.secret ? settings.sensorId : undefined,
    password: settings.secret ? new Uint8Array(ArrayBuffer.fromString(settings.secret)) : undefined,
    keepAliveSeconds: settings.keepAliveSeconds,
    maxPacketBytes: MAX_RECORD_BYTES + topic.length + PUBLISH_OVERHEAD_BYTES,
    timers: { set: (callback, ms) => Timer.set(callback, ms), clear: (timer) => Timer.clear(timer as Timer) },
    now: () => Time.ticks,
    onConnect: () => {
      trace(`connected to gateway ${settings.gatewayAddress}:${settings.gatewayPort}, ${log.records} records waiting\n`);
      // Without a clock of its own, the device lets the gateway's clock anchor this boot.
      if (!clockSynced()) {
        uplink.sendEphemeral(writeClockAnchor(writer, { sensorId: settings.sensorId, boot: lease.boot, uptimeMs: uptime(), wallMs: null }));
      }
      uplink.pump();
    },
    onDisconnect: (reason) => trace(`gateway connection lost: ${reason}\n`),
    onAck: (token) => uplink.acknowledged(token),
    onError: (message) => trace(`mqtt: ${message}\n`),
  });
  uplink.attach(client);

  let anchored = false;
  const readings: Reading[] = [];
  for (let i = 0; i < MAX_SAMPLE_READINGS; i++) readings.push({ quantity: "temperature", value: 0 });
  // One observation object reused for every sample.
  const observation: Observation = { sensorId: settings.sensorId, seq: 0, boot: lease.boot, uptimeMs: 0, readings };

  function flushBatch(): void {
    if (batchTimer !== undefined) Timer.clear(batchTimer);
    batchTimer = undefined;
    if (batch.count > 0) uplink.record(batch.finish());
  }

  function batchAged(): void {
    // A one-shot timer that fired is gone: forget it rather than clear it.
    batchTimer = undefined;
    flushBatch();
  }

  function addToBatch(count: number): void {
    if (!batch.add(observation, count)) {
      flushBatch();
      batch.add(observation, count);
    }
    if (settings.batchMaxAgeMs === 0) flushBatch();
    else if (batchTimer === undefined) batchTimer = Timer.set(batchAged, settings.batchMaxAgeMs);
  }

  function sample(): void {
    // The first synced clock of this boot goes into the log, so the backlog carries its own wall time.
    if (!anchored && clockSynced()) {
      anchored = uplink.record(writeClockAnchor(writer, { sensorId: settings.sensorId, boot: lease.boot, uptimeMs: uptime(), wallMs: Date.now() }));
    }
    const count = sensor.read(readings);
    if (count === 0) return;
    observation.seq = lease.next();
    observation.uptimeMs = uptime();
    addToBatch(count);
    if (settings.traceSamples) trace(`observation seq=${observation.seq} ${readings[0].quantity}=${readings[0].value.toFixed(2)} logged=${log.records}\n`);
  }

  trace(`xsedge device ${settings.sensorId} boot ${lease.boot}: ${settings.sensor}, every ${settings.samplePeriodMs} ms, ${log.records} records in flash\n`);
  Timer.repeat(sample, settings.samplePeriodMs);
}
