/*
 * Whether an address a server binds is reachable from this machine only:
 * what decides if a listener may go without credentials or TLS.
 */
import { isIP } from "node:net";

/** 127.0.0.0/8, ::1 (and IPv4-mapped loopback), "localhost". */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, "$1").toLowerCase();
  if (bare === "localhost") return true;
  if (isIP(bare) === 4) return bare.startsWith("127.");
  if (isIP(bare) === 6) return bare === "::1" || /^::ffff:127\./.test(bare);
  return false;
}
