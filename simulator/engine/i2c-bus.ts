/*
 * A simulated I2C bus: register-level models of parts answer at their
 * addresses, and an address with no part behaves as on a real bus (NACK).
 */
export interface I2cTarget {
  /** Returns false to NACK. */
  write(bytes: Uint8Array, stop: boolean): boolean;
  /** Returns undefined to NACK. */
  read(count: number, stop: boolean): Uint8Array | undefined;
}

export class I2cBus {
  private readonly targets = new Map<number, I2cTarget>();
  /** Transfers that were not acknowledged: a missing part or a model refusing. */
  nacks = 0;

  attach(address: number, target: I2cTarget): void {
    if (!Number.isInteger(address) || address < 0 || address > 0x7f) throw new RangeError(`invalid I2C address ${address}`);
    if (this.targets.has(address)) throw new Error(`I2C address 0x${address.toString(16)} already in use`);
    this.targets.set(address, target);
  }

  detach(address: number): void {
    this.targets.delete(address);
  }

  write(address: number, bytes: Uint8Array, stop: boolean): boolean {
    const ok = this.targets.get(address)?.write(bytes, stop) ?? false;
    if (!ok) this.nacks++;
    return ok;
  }

  read(address: number, count: number, stop: boolean): Uint8Array | undefined {
    const data = this.targets.get(address)?.read(count, stop);
    if (!data) this.nacks++;
    return data;
  }
}
