/*
 * The device runtime: what `device(setup)` starts. It owns everything an app
 * should not have to get right — the runtime's settings and the app's,
 * validated; the boot counter and sequence leases; the flash log and the
 * QoS 1 uplink that releases records only on PUBACK; batching per stream;
 * clock anchors; the downlink and its reports; the sampling schedule — and
 * hands the app one object (DeviceApp, app-types.ts) to declare its sensors,
 * settings, commands and quantities and to record observations of its own.
 */
import Timer from "timer";
import Time from "time";
import Flash from "flash";
import TCP from "embedded:io/socket/tcp";
import builtin from "embedded:provider/builtin";
import Preference from "preference";
import config from "mc/config";
import { MqttClient } from "../mqtt/client.js";
import { MAX_IN_FLIGHT } from "../mqtt/client-options.js";
import { CborWriter } from "../observation/cbor-writer.js";
import { CLOCK_SYNCED_AFTER_MS, MAX_RECORD_BYTES, writeClockAnchor } from "../observation/record.js";
import { FlashLog } from "../storage/flash-log.js";
import { downlinkTopic, reportTopic } from "../downlink/messages.js";
import { readSettings, MAX_SAMPLE_PERIOD_MS, MIN_SAMPLE_PERIOD_MS, PROVISIONING_DOMAIN } from "./settings.js";
import { SettingsRegistry, type Setting, type SettingsStore } from "./app-settings.js";
import { SequenceLease } from "./sequence-lease.js";
import { Uplink } from "./uplink.js";
import { Recorder } from "./recorder.js";
import { DownlinkHandler, STATE_DOMAIN, type CommandHandler } from "./downlink-handler.js";
import { AppSensors } from "./app-sensors.js";
import type { DeviceApp, DeviceStats } from "./app-types.js";

/** MQTT framing around a record: fixed header, topic length, packet id. */
const PUBLISH_OVERHEAD_BYTES = 8;
/** Time for the PUBACK and the report of a reboot command to leave before the board restarts. */
const REBOOT_DELAY_MS = 500;

export const uplinkTopic = (sensorId: string): string => `xsedge/v1/${sensorId}/up`;

/** What the Moddable SDK's io manifest installs on boards with a restart (ESP32, Pico; the simulator's host too). */
interface SystemGlobal {
  restart?: () => void;
}

export function startDevice(setup: (app: DeviceApp) => void): void {
  const preferences = Preference as unknown as SettingsStore;
  const settings = readSettings(config, Preference);
  const lease = new SequenceLease(Preference, STATE_DOMAIN);
  const { sensorId } = settings;
  const topic = uplinkTopic(sensorId);
  const reports = reportTopic(sensorId);
  // Monotonic from this boot: on Moddable's desktop simulator Time.ticks counts from 1970.
  const bootTicks = Time.ticks;
  const uptime = () => Time.ticks - bootTicks;
  const timers = {
    set: (callback: () => void, ms: number) => Timer.set(callback, ms),
    repeat: (callback: () => void, ms: number) => Timer.repeat(callback, ms),
    clear: (timer: unknown) => Timer.clear(timer as Timer),
  };

  const registry = new SettingsRegistry(preferences, config);
  const samplePeriod = registry.declare("samplePeriodMs", { type: "integer", default: settings.samplePeriodMs, min: MIN_SAMPLE_PERIOD_MS, max: MAX_SAMPLE_PERIOD_MS }, PROVISIONING_DOMAIN) as Setting<number>;
  const batchAge = registry.declare("batchMaxAgeMs", { type: "integer", default: settings.batchMaxAgeMs, min: 0, max: MAX_SAMPLE_PERIOD_MS }, PROVISIONING_DOMAIN) as Setting<number>;
  const traceSamples = registry.declare("traceSamples", { type: "boolean", default: settings.traceSamples }, PROVISIONING_DOMAIN) as Setting<boolean>;

  const log = FlashLog.mount(new Flash(settings.flashPartition), { policy: settings.logPolicy });
  const uplink = new Uplink({ log, topic, reportTopic: reports, maxInFlight: MAX_IN_FLIGHT, maxRecordBytes: MAX_RECORD_BYTES });
  const recorder = new Recorder({
    sensorId, boot: lease.boot, nextSeq: () => lease.next(), uplink, uptime, wallNow: () => Date.now(), timers, batchMaxAgeMs: () => batchAge.value,
  });
  const traceLine = (line: string): void => trace(line);

  // The plain esp32 host provider names no default I2C bus; the config's pins stand in.
  const bus = builtin.I2C?.default ?? { data: settings.i2cData ?? 21, clock: settings.i2cClock ?? 22, hz: 100_000 };
  const sensors = new AppSensors({
    recorder, registry, timers, trace: traceLine,
    io: builtin.io as unknown as Record<string, unknown>,
    bus: bus as unknown as Record<string, unknown>,
    defaultPeriod: samplePeriod,
    traceSamples: () => traceSamples.value,
    logged: () => log.records,
  });

  const commands = new Map<string, CommandHandler>();
  const flush = () => {
    recorder.flush();
    uplink.pump();
  };
  commands.set("flush", () => {
    flush();
    return `${log.records} records in flash`;
  });
  commands.set("identify", () => {
    trace(`identify: ${sensorId}, boot ${lease.boot}\n`);
  });
  commands.set("reboot", () => {
    const system = (globalThis as { System?: SystemGlobal }).System;
    const restart = system?.restart;
    if (typeof restart !== "function") throw new Error("this board cannot restart from JavaScript (no System.restart)");
    recorder.flush();
    Timer.set(() => restart.call(system), REBOOT_DELAY_MS);
    return "restarting";
  });
  const builtinCommands = new Set(["flush", "reboot"]);

  const downlink = new DownlinkHandler({
    settings: registry,
    command: (name) => commands.get(name),
    store: preferences,
    // Through the log, so a report outlives a reboot; sent at once if the log refuses it.
    report: (bytes) => {
      if (!uplink.record(bytes)) uplink.sendEphemeral(bytes);
    },
    trace: traceLine,
  });

  const app: DeviceApp = {
    sensorId,
    boot: lease.boot,
    sensor: (name, driver, options) => sensors.declare(name, driver, options),
    setting: ((name: string, spec: Parameters<SettingsRegistry["declare"]>[1]) => {
      if (Object.hasOwn(settings, name)) throw new RangeError(`setting ${name} is the runtime's; choose another name`);
      return registry.declare(name, spec);
    }) as DeviceApp["setting"],
    command: (name, handler) => {
      if (builtinCommands.has(name)) throw new RangeError(`command ${name} is the runtime's`);
      if (commands.has(name) && name !== "identify") throw new RangeError(`command ${name} is declared twice`);
      if (typeof handler !== "function") throw new TypeError(`command ${name}: the handler must be a function`);
      commands.set(name, handler);
    },
    quantity: (name, unit, exponent) => sensors.quantity(name, unit, exponent),
    record: (readings, options) => sensors.record(readings, options?.now === true),
    flush,
    stats: (): DeviceStats => {
      const u = uplink.stats;
      return {
        boot: lease.boot, connected: client?.connected ?? false, waiting: log.records, logged: u.logged, refused: u.refused,
        dropped: log.stats().dropped, published: u.published, released: u.released, ...sensors.counts(), downlinks: { ...downlink.stats },
      };
    },
  };

  let client: MqttClient | undefined;
  setup(app);
  sensors.seal();

  const clockSynced = () => Date.now() >= CLOCK_SYNCED_AFTER_MS;
  const anchorWriter = new CborWriter(MAX_RECORD_BYTES);
  const down = downlinkTopic(sensorId);
  client = new MqttClient({
    socket: { io: TCP, address: settings.gatewayAddress, port: settings.gatewayPort },
    clientId: sensorId,
    username: settings.secret ? sensorId : undefined,
    password: settings.secret ? new Uint8Array(ArrayBuffer.fromString(settings.secret)) : undefined,
    keepAliveSeconds: settings.keepAliveSeconds,
    maxPacketBytes: MAX_RECORD_BYTES + reports.length + PUBLISH_OVERHEAD_BYTES,
    timers,
    now: () => Time.ticks,
    subscriptions: [down],
    onConnect: () => {
      trace(`connected to gateway ${settings.gatewayAddress}:${settings.gatewayPort}, ${log.records} records waiting\n`);
      // Without a clock of its own, the device lets the gateway's clock anchor this boot.
      if (!clockSynced()) uplink.sendEphemeral(writeClockAnchor(anchorWriter, { sensorId, boot: lease.boot, uptimeMs: uptime(), wallMs: null }));
      uplink.pump();
    },
    onDisconnect: (reason) => trace(`gateway connection lost: ${reason}\n`),
    onAck: (token) => uplink.acknowledged(token),
    onError: (message) => trace(`mqtt: ${message}\n`),
    onMessage: (messageTopic, payload) => {
      if (messageTopic === down) downlink.handle(payload);
    },
  });
  uplink.attach(client);
  trace(`xsedge device ${sensorId} boot ${lease.boot}: ${sensors.describe()}, ${log.records} records in flash\n`);
  sensors.start();
}
