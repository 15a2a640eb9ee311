/*
 * `embedded:io/socket/tcp` for boards with no IP link (nRF52, Pico without
 * W): the app builds and runs unchanged, samples, and keeps its records
 * (in RAM now, in the flash log once it lands) while every connection attempt
 * fails at once with a message that says why. MqttClient treats the throw as
 * a refused connection and retries on its backoff, which costs a few
 * microseconds a minute at most.
 *
 * No imports: compiled by mcconfig with the SDK's typings on the board, and
 * type-checked by `npm run build` alongside the other hosts/ code.
 */
export interface TcpOptions {
  address: string;
  port: number;
}

export default class TCP {
  constructor(options: TcpOptions) {
    throw new Error(`no IP uplink on this board: can't reach ${options.address}:${options.port} (records stay on the device)`);
  }

  read(): undefined {
    return undefined;
  }

  write(): void {
    throw new Error("closed");
  }

  close(): void {}
}
