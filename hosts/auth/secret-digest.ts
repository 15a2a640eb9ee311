/*
 * A device secret's digest as text, "sha256:<64 lowercase hex digits>": what
 * the reference cloud keeps at rest and sends on its registration streams
 * instead of the secret, and what the gateway's registrations accept in
 * place of one. The gateway checks a device's password by hashing it and
 * comparing digests (gateway/ingest/sensor-registry.ts), so the digest is
 * all it needs; the prefix says which hash, so that a stream carrying it is
 * never mistaken for one carrying the secret itself.
 */
import { createHash } from "node:crypto";

export const SECRET_DIGEST_PREFIX = "sha256:";
const DIGEST_PATTERN = /^sha256:([0-9a-f]{64})$/;

/** SHA-256 of the secret's UTF-8 bytes, as the gateway computes it for a password. */
export function secretDigestText(secret: string): string {
  return SECRET_DIGEST_PREFIX + createHash("sha256").update(secret, "utf8").digest("hex");
}

/** The digest's 32 bytes when `text` is a digest in this form, else undefined (it may be a secret). */
export function parseSecretDigest(text: string): Buffer | undefined {
  const match = DIGEST_PATTERN.exec(text);
  return match === null ? undefined : Buffer.from(match[1], "hex");
}
