/*
 * One simulated device: the device bundle running on the real XS engine in
 * its own xsnap-worker, with this host standing in for the board: its clock,
 * its I2C bus (register models of real parts), its TCP stack (real sockets)
 * and its preference storage.
 *
 * The host is the device's event loop. Events (a timer falling due, bytes on
 * a socket) are delivered one at a time; each reply names the device's next
 * timer deadline, which the host arms on its clock.
 */
import type { Logger } from "../../hosts/log/logger.js";
import { Event, FrameReader, FrameWriter, MAX_FRAME_BYTES, NO_DEADLINE, utf8 } from "../xs-host/protocol.js";
import { RealClock, type HostClock } from "./host-clock.js";
import { I2cBus } from "./i2c-bus.js";
import { PreferenceStore } from "./preference-store.js";
import { HostServices, type ExtraRequests } from "./host-services.js";
import { TcpBridge } from "./tcp-bridge.js";
import { XsnapWorker, type Meter } from "./xsnap-worker.js";
import type { BlockDevice } from "../../modules/storage/block-device.js";

/** Bytes per XS slot on a 64-bit host; a 32-bit board (ESP32) uses 16. */
export const HOST_SLOT_BYTES = 32;

export interface SimulatedDeviceOptions {
  /** Names the device in logs and the worker's process title. */
  name: string;
  /** The simulator bundle (build/sim/device.js). */
  bundle: string;
  /** What the device's `mc/config` holds. */
  config: Record<string, unknown>;
  clock?: HostClock;
  i2c?: I2cBus;
  preferences?: PreferenceStore;
  /** Flash partitions by name, as `new Flash(name)` opens them. */
  flash?: Record<string, BlockDevice>;
  logger?: Logger;
  /** Each line the device traces. */
  onTrace?: (line: string) => void;
  /** Requests beyond the board's own: a restart, value-level sensor models (see host-services.ts). */
  extraRequests?: ExtraRequests;
}

export interface SimulatedDeviceStats {
  events: number;
  uncaught: number;
  traces: number;
  flashFaults: number;
  hostErrors: number;
  heapSlots: number;
  /** xsnap's compute meter summed over every event delivered: what a benchmark divides by samples. */
  compute: number;
  tcp: TcpBridge["stats"];
  i2cNacks: number;
}

export class SimulatedDevice {
  readonly name: string;
  readonly i2c: I2cBus;
  readonly preferences: PreferenceStore;
  readonly clock: HostClock;
  private readonly options: SimulatedDeviceOptions;
  private readonly tcp: TcpBridge;
  private readonly services: HostServices;
  private readonly event = new FrameWriter(MAX_FRAME_BYTES);
  private worker: XsnapWorker | undefined;
  private queue: Uint8Array[] = [];
  private draining: Promise<void> | undefined;
  private timer: unknown;
  private timerAt = NO_DEADLINE;
  private stopped = false;
  private meter: Meter | undefined;
  private counts = { events: 0, hostErrors: 0, compute: 0 };

  constructor(options: SimulatedDeviceOptions) {
    this.options = options;
    this.name = options.name;
    this.clock = options.clock ?? new RealClock();
    this.i2c = options.i2c ?? new I2cBus();
    this.preferences = options.preferences ?? new PreferenceStore();
    this.tcp = new TcpBridge({
      writable: (id, count) => this.deliver(this.frame(Event.TCP_WRITABLE).u16(id).u32(count)),
      data: (id, bytes) => this.deliver(this.frame(Event.TCP_DATA).u16(id).tail(bytes)),
      error: (id, reason) => this.deliver(this.frame(Event.TCP_ERROR).u16(id).tail(utf8(reason))),
    });
    this.services = new HostServices({
      name: this.name,
      clock: this.clock,
      tcp: this.tcp,
      i2c: this.i2c,
      preferences: this.preferences,
      flash: options.flash ?? {},
      logger: options.logger,
      onTrace: options.onTrace,
      extraRequests: options.extraRequests,
    });
  }

  /** Starts the worker, loads the bundle and boots the app; resolves once main() has returned. */
  async start(): Promise<void> {
    if (this.worker) throw new Error(`${this.name}: already started`);
    const worker = new XsnapWorker({
      name: this.name,
      onQuery: (request) => this.services.handle(request),
      onPrint: (line) => this.options.logger?.debug("xs print", { device: this.name, line }),
      onQueryError: (error) => {
        this.counts.hostErrors++;
        this.options.logger?.error("simulator host failed a device request", { device: this.name, error });
      },
    });
    this.worker = worker;
    void worker.exited.then(({ code, signal }) => {
      if (!this.stopped) this.options.logger?.error("device worker exited unexpectedly", { device: this.name, code, signal });
      this.stopped = true;
      this.disarm();
      this.tcp.closeAll();
    });
    const loaded = await worker.evaluate(this.options.bundle);
    this.meter = loaded.meter;
    await this.deliver(this.frame(Event.BOOT).tail(utf8(JSON.stringify(this.options.config))));
  }

  /** Stops the device as a power cut would: sockets drop, the worker is killed. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.disarm();
    this.tcp.closeAll();
    await this.worker?.close();
  }

  /** Resolves when every event delivered so far has been handled. */
  async idle(): Promise<void> {
    while (this.draining) await this.draining;
  }

  /** Runs XS's garbage collector and returns the live heap, in slots: what a benchmark compares. */
  async collectGarbage(): Promise<number> {
    await this.idle();
    if (!this.worker) throw new Error(`${this.name}: not started`);
    const { meter } = await this.worker.evaluate("gc()");
    this.meter = meter;
    return meter.currentHeapCount;
  }

  /** The worker process's id, once started (for a benchmark to read its CPU and memory). */
  get pid(): number | undefined {
    return this.worker?.pid;
  }

  /** The XS heap as xsnap last measured it, in slots. */
  get heapSlots(): number {
    return this.meter?.currentHeapCount ?? 0;
  }

  stats(): SimulatedDeviceStats {
    return { ...this.counts, ...this.services.counts, heapSlots: this.heapSlots, tcp: { ...this.tcp.stats }, i2cNacks: this.i2c.nacks };
  }

  private frame(type: number): FrameWriter {
    return this.event.reset().u8(type).f64(this.clock.now());
  }

  private deliver(frame: FrameWriter): Promise<void> {
    if (this.stopped) return Promise.resolve();
    this.queue.push(new Uint8Array(frame.finish()));
    if (!this.draining) {
      this.draining = this.drain().finally(() => {
        this.draining = undefined;
      });
    }
    return this.draining;
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0 && !this.stopped && this.worker) {
      const event = this.queue.shift()!;
      // The stamp is taken when the event is handled, not when it was queued.
      new DataView(event.buffer).setFloat64(1, this.clock.now(), true);
      this.counts.events++;
      try {
        const { reply, meter } = await this.worker.command(event);
        this.meter = meter;
        this.counts.compute += meter.compute;
        this.arm(new FrameReader(reply).f64());
      } catch (error) {
        if (this.stopped) return;
        this.counts.hostErrors++;
        this.options.logger?.error("device failed to handle an event", { device: this.name, error });
      }
    }
  }

  private arm(deadline: number): void {
    if (deadline === this.timerAt) return;
    this.disarm();
    if (deadline === NO_DEADLINE || this.stopped) return;
    this.timerAt = deadline;
    this.timer = this.clock.setTimer(deadline, () => {
      this.timer = undefined;
      this.timerAt = NO_DEADLINE;
      return this.deliver(this.frame(Event.TICK));
    });
  }

  private disarm(): void {
    if (this.timer !== undefined) this.clock.clearTimer(this.timer);
    this.timer = undefined;
    this.timerAt = NO_DEADLINE;
  }
}
