/*
 * The device application: sample the temperature sensor every period, encode
 * each observation as a packed CBOR record, and publish it with QoS 1 to the
 * gateway. Records wait in a bounded queue while the gateway is unreachable
 * and leave it only when the broker has acknowledged them.
 */
import Timer from "timer";
import Time from "time";
import TCP from "embedded:io/socket/tcp";
import device from "embedded:provider/builtin";
import Preference from "preference";
import config from "mc/config";
import TMP117 from "../sensors/tmp117.js";
import type { SensorOptions } from "../sensors/sensor-io.js";
import { MqttClient } from "../mqtt/client.js";
import { encodeObservation, type Observation } from "../observation/record.js";
import { readSettings } from "./settings.js";
import { SequenceLease } from "./sequence-lease.js";
import { RecordQueue } from "./record-queue.js";

/** Before this (September 2020) the clock has not been set since boot: send no wall time. */
const CLOCK_SYNCED_AFTER_MS = 1_600_000_000_000;
const PREFERENCE_DOMAIN = "xsedge";

export const topicFor = (sensorId: string): string => `xsedge/v1/${sensorId}/obs`;

export default function main(): void {
  const settings = readSettings(config);
  const lease = new SequenceLease(Preference, PREFERENCE_DOMAIN);
  const queue = new RecordQueue(settings.queueCapacity);
  const topic = topicFor(settings.sensorId);
  const sensor = new TMP117({
    // @moddable/typings omits I2C's close(), which ECMA-419 gives every I/O class and the SDK implements.
    sensor: { ...device.I2C.default, io: device.io.I2C as unknown as SensorOptions["sensor"]["io"], address: settings.sensorAddress },
    onError: (message) => trace(`sensor fault: ${message}\n`),
  });

  const client = new MqttClient({
    socket: { io: TCP, address: settings.gatewayAddress, port: settings.gatewayPort },
    clientId: settings.sensorId,
    username: settings.mqttUsername,
    password: settings.mqttPassword === undefined ? undefined : new Uint8Array(ArrayBuffer.fromString(settings.mqttPassword)),
    keepAliveSeconds: settings.keepAliveSeconds,
    timers: { set: (callback, ms) => Timer.set(callback, ms), clear: (timer) => Timer.clear(timer as Timer) },
    now: () => Time.ticks,
    onConnect: () => {
      trace(`connected to gateway ${settings.gatewayAddress}:${settings.gatewayPort}\n`);
      flush();
    },
    onDisconnect: (reason) => trace(`gateway connection lost: ${reason}\n`),
    onAck: () => flush(),
    onError: (message) => trace(`mqtt: ${message}\n`),
  });

  // One observation object reused for every sample.
  const observation: Observation = {
    sensorId: settings.sensorId,
    seq: 0,
    boot: lease.boot,
    uptimeMs: 0,
    readings: [{ quantity: "temperature", value: 0 }],
  };

  function flush(): void {
    for (let record = queue.peek(); record; record = queue.peek()) {
      if (!client.publish(topic, record)) return;
      queue.shift();
    }
  }

  function sample(): void {
    const { temperature } = sensor.sample();
    if (temperature === undefined) return;
    observation.seq = lease.next();
    observation.uptimeMs = Time.ticks;
    const now = Date.now();
    if (now >= CLOCK_SYNCED_AFTER_MS) observation.time = now;
    else delete observation.time;
    observation.readings[0].value = temperature;
    queue.push(encodeObservation(observation));
    trace(`observation seq=${observation.seq} temperature=${temperature.toFixed(2)} queued=${queue.size} dropped=${queue.dropped}\n`);
    flush();
  }

  trace(`xsedge device ${settings.sensorId} boot ${lease.boot}, sampling every ${settings.samplePeriodMs} ms\n`);
  Timer.repeat(sample, settings.samplePeriodMs);
}
