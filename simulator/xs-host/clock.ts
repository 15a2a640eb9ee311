/*
 * The device's view of time inside XS. xsnap has no timers of its own: the
 * host stamps every event with its clock, which may be real or virtual, and
 * the device sees only that. Date.now follows it too, so a simulated device
 * can run hours of virtual time in seconds.
 */
let hostNow = 0;
let bootNow = 0;
/** Offset applied by Time.set, as on a board after an SNTP sync. */
let wallOffset = 0;
/** Whether the device's wall clock counts from the epoch or from boot, like an unsynced board. */
let wallSynced = true;

export function setHostNow(now: number): void {
  // The host's clock never runs backwards; a stale stamp must not either.
  if (now > hostNow) hostNow = now;
}

export function advance(ms: number): void {
  hostNow += ms;
}

export function markBoot(synced: boolean): void {
  bootNow = hostNow;
  wallSynced = synced;
}

export function ticks(): number {
  return Math.floor(hostNow - bootNow);
}

export function now(): number {
  return hostNow;
}

export function wallNow(): number {
  return (wallSynced ? hostNow : hostNow - bootNow) + wallOffset;
}

export function setWall(seconds: number): void {
  wallOffset = seconds * 1000 - (wallSynced ? hostNow : hostNow - bootNow);
}
