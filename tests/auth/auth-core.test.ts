/*
 * hosts/auth's pure parts: what an authorization header presents, token
 * sets, token files' text, secret digests, and the refusal log's throttle.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { MIN_TOKEN_LENGTH, presentedToken, sendableTokenProblem, TokenError, TokenSet, tokenProblem } from "../../hosts/auth/bearer.js";
import { AuthRefusals, MAX_AUTH_LINES_PER_INTERVAL } from "../../hosts/auth/refusals.js";
import { parseSecretDigest, secretDigestText } from "../../hosts/auth/secret-digest.js";
import { loadOrCreateTokenFile, newToken, parseTokenText, readClientToken } from "../../hosts/auth/token-file.js";
import { createMemoryLogger } from "../../hosts/log/logger.js";
import { tempDir } from "../support/test-helpers.js";

const TOKEN = "a-token-of-twenty-chars";

test("presentedToken reads Bearer and Basic (the password), and calls anything else malformed", () => {
  assert.equal(presentedToken(undefined), { kind: "none" });
  assert.equal(presentedToken(""), { kind: "none" });
  assert.equal(presentedToken(`Bearer ${TOKEN}`), { kind: "token", token: TOKEN });
  assert.equal(presentedToken(`bearer  ${TOKEN}`), { kind: "token", token: TOKEN }, "the scheme is case-insensitive");
  assert.equal(presentedToken(`Basic ${Buffer.from(`user:${TOKEN}`).toString("base64")}`), { kind: "token", token: TOKEN });
  assert.equal(presentedToken(`Basic ${Buffer.from(`:pass:with:colons`).toString("base64")}`), { kind: "token", token: "pass:with:colons" });
  for (const header of ["Bearer", `Bearer ${TOKEN} more`, "Digest abc", `Basic ${Buffer.from("no colon").toString("base64")}`, ["a", "b"]]) {
    assert.equal(presentedToken(header), { kind: "malformed" }, String(header));
  }
});

test("a TokenSet knows its tokens, and refuses short or unsendable ones without quoting them", () => {
  const set = new TokenSet([TOKEN, "another-token-0123456789"]);
  assert.ok(set.has(TOKEN) && set.has("another-token-0123456789"));
  assert.not.ok(set.has(TOKEN.slice(0, -1)) || set.has(`${TOKEN}x`) || set.has(""));
  assert.ok(set.shares(new TokenSet(["another-token-0123456789"])));
  assert.not.ok(set.shares(new TokenSet(["yet-another-token-01234"])));
  assert.is(tokenProblem("x".repeat(MIN_TOKEN_LENGTH - 1)), `is ${MIN_TOKEN_LENGTH - 1} characters, at least ${MIN_TOKEN_LENGTH} are needed`);
  assert.match(String(sendableTokenProblem("has space")), /may only hold/);
  assert.match(String(sendableTokenProblem("line\r\nbreak")), /may only hold/);
  assert.is(sendableTokenProblem("short"), undefined, "a client sends what it is given; the server judges its length");
  assert.throws(() => new TokenSet(["tiny-secret"], "--admin-token-file /x"), (e: Error) => e instanceof TokenError && /--admin-token-file \/x: token 1 is 11/.test(e.message) && !e.message.includes("tiny-secret"));
});

test("token files: one token a line, comments and blank lines ignored; a bad line is named by number", () => {
  assert.equal(parseTokenText(`# ops\n\n  ${TOKEN}  \r\nanother-token-0123456789\n`, "f"), [TOKEN, "another-token-0123456789"]);
  assert.throws(() => parseTokenText("# only a comment\n", "f"), /f holds no token/);
  assert.throws(() => parseTokenText(`${TOKEN}\nshort\n`, "f"), (e: Error) => /f line 2: the token is 5 characters/.test(e.message) && !e.message.includes("short\n"));
  assert.match(newToken(), /^[A-Za-z0-9_-]{43}$/);
  assert.is.not(newToken(), newToken());
});

test("a created token file is 0600 and holds the token alone; it is read back, not replaced, on the next load", () => {
  const dir = tempDir("token-file");
  try {
    const path = join(dir.path, "credentials", "admin.token");
    const first = loadOrCreateTokenFile(path);
    assert.is(first.created, true);
    assert.is(readFileSync(path, "utf8"), `${first.tokens[0]}\n`);
    assert.is(statSync(path).mode & 0o777, 0o600);
    assert.is(statSync(join(dir.path, "credentials")).mode & 0o777, 0o700);
    assert.equal(loadOrCreateTokenFile(path), { tokens: first.tokens, created: false });
    assert.is(readClientToken(path), first.tokens[0]);
  } finally {
    dir.remove();
  }
});

test("secret digests: sha256:<64 lowercase hex> of the UTF-8 bytes, parsed back to 32 bytes; anything else is not one", () => {
  const text = secretDigestText("grüne Hütte");
  assert.match(text, /^sha256:[0-9a-f]{64}$/);
  assert.is(parseSecretDigest(text)?.length, 32);
  for (const other of ["sha256:", `sha256:${"A".repeat(64)}`, `sha256:${"a".repeat(63)}`, `SHA256:${"a".repeat(64)}`, "a plain secret"]) assert.is(parseSecretDigest(other), undefined, other);
});

test("refusals: every one counted; the log gets the first per reason and address, one line per interval after, and a cap in all", () => {
  const logger = createMemoryLogger();
  let now = 0;
  const refusals = new AuthRefusals(logger, () => now);
  for (let i = 0; i < 50; i++) refusals.refuse("invalid", "GET /x", "10.0.0.1");
  assert.is(logger.lines.length, 1);
  now = 10_000;
  refusals.refuse("invalid", "GET /x", "10.0.0.1");
  assert.match(String(logger.lines[1].msg), /\(49 more like this since the last such line\)/);
  for (let i = 0; i < 100; i++) refusals.refuse("missing", "GET /x", `10.1.0.${i}`);
  assert.is(logger.lines.length, 1 + MAX_AUTH_LINES_PER_INTERVAL, "ever new addresses do not make ever more lines");
  now = 20_000;
  refusals.refuse("forbidden", "GET /y", "10.2.0.1");
  assert.match(String(logger.lines.at(-2)?.msg), /^81 credential refusals not logged/);
  assert.equal(refusals.counts(), { missing: 100, invalid: 51, forbidden: 1 });
});

test.run();
