// ECMA-419 sensor drivers of the Moddable SDK (its modules/drivers/sensors/),
// which @moddable/typings does not declare. Any `embedded:sensor/<Class>/<Part>`
// is a driver class of the Sensor Class Pattern; the parts used by our
// examples and the `xsedge new` template have their sample shapes spelt out.
// An app's tsconfig picks this up with a reference to this file (the
// template's src/types.d.ts does).

declare namespace EmbeddedSensor {
  interface Options {
    /** The bus: an I/O class of the host provider (device.io.I2C, device.io.SMBus, ...) and its options (pins, address). */
    sensor: { io: unknown; address?: number; [key: string]: unknown };
    /** Data faults (a bad CRC); the affected field is left out of the sample. */
    onError?: (message: string) => void;
    [key: string]: unknown;
  }
  interface Driver<Sample> {
    configure(options: Record<string, unknown>): void;
    sample(): Sample;
    close(): void;
  }
  type Class<Sample> = new (options: Options) => Driver<Sample>;
}

declare module "embedded:sensor/*" {
  const Driver: EmbeddedSensor.Class<Record<string, unknown>>;
  export default Driver;
}

declare module "embedded:sensor/Temperature/TMP117" {
  /** SMBus at 0x48; `alert` is the part's high/low alert bits. */
  const TMP117: EmbeddedSensor.Class<{ temperature?: number; alert?: number }>;
  export default TMP117;
}

declare module "embedded:sensor/Humidity-Temperature/SHT3x" {
  /** I2C at 0x44 (needs the SDK's crc module); a field whose CRC failed is absent. */
  const SHT3x: EmbeddedSensor.Class<{ thermometer: { temperature?: number }; hygrometer: { humidity?: number } }>;
  export default SHT3x;
}
