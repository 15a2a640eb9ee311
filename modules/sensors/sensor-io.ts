/*
 * What an ECMA-419 sensor driver needs of its bus. Declared structurally so
 * Moddable's `embedded:io/i2c`, the simulator's, and a test's register model
 * all fit without the driver importing any of them.
 */
export interface SensorIO {
  write(buffer: ArrayBuffer | ArrayBufferView, stop?: boolean): void;
  read(buffer: ArrayBuffer | ArrayBufferView, stop?: boolean): unknown;
  close(): void;
}

export interface SensorIOOptions {
  hz: number;
  address: number;
  data: number;
  clock: number;
  port?: number;
}

export interface SensorOptions {
  sensor: Partial<SensorIOOptions> & { io: new (options: SensorIOOptions) => SensorIO };
  /** Runtime data faults (a NACK, a bad CRC, no result yet): the field is left out of the sample. */
  onError?: (message: string) => void;
}
