/*
 * Time as one simulated device sees it. The fleet's time is the host's
 * clock (real or virtual) as of the event being handled; a device blocked
 * in Timer.delay sees its own clock jump by the delay at once (it cannot
 * tell otherwise) while the fleet goes on. Ticks count from the device's
 * boot; its wall clock follows the host's, or counts from boot for a board
 * that has not synced its clock, until Time.set.
 */
export interface FleetTime {
  now: number;
}

export class DeviceClock {
  readonly #fleet: FleetTime;
  #blockedUntil = 0;
  #bootAt: number;
  #synced: boolean;
  /** Offset applied by Time.set, as on a board after an SNTP sync. */
  #wallOffset = 0;

  constructor(fleet: FleetTime, synced: boolean) {
    this.#fleet = fleet;
    this.#bootAt = fleet.now;
    this.#synced = synced;
  }

  now(): number {
    const fleet = this.#fleet.now;
    return fleet > this.#blockedUntil ? fleet : this.#blockedUntil;
  }

  ticks(): number {
    return Math.floor(this.now() - this.#bootAt);
  }

  wallNow(): number {
    const now = this.now();
    return (this.#synced ? now : now - this.#bootAt) + this.#wallOffset;
  }

  setWall(seconds: number): void {
    const now = this.now();
    this.#wallOffset = seconds * 1000 - (this.#synced ? now : now - this.#bootAt);
  }

  delay(ms: number): void {
    this.#blockedUntil = this.now() + ms;
  }
}
