import { test } from "uvu";
import * as assert from "uvu/assert";
import { NetstringDecoder, encodeNetstring } from "../../simulator/engine/netstring.js";

test("encodes and decodes messages split at every byte", () => {
  const wire = Buffer.concat([encodeNetstring(Buffer.from("hello")), encodeNetstring(Buffer.from("")), encodeNetstring(Buffer.from("a,b:c"))]);
  const decoder = new NetstringDecoder();
  const out: string[] = [];
  for (const byte of wire) for (const m of decoder.push(Uint8Array.of(byte))) out.push(m.toString());
  assert.equal(out, ["hello", "", "a,b:c"]);
  assert.is(decoder.pendingBytes, 0);
});

test("several messages in one chunk come out in order", () => {
  const decoder = new NetstringDecoder();
  const messages = decoder.push(Buffer.concat([encodeNetstring(Buffer.from("1")), encodeNetstring(Buffer.from("22"))]));
  assert.equal(messages.map(String), ["1", "22"]);
});

test("malformed framing is a named error", () => {
  assert.throws(() => new NetstringDecoder().push(Buffer.from("5:hello;")), /missing ','/);
  assert.throws(() => new NetstringDecoder().push(Buffer.from("x5:hello,")), /invalid length prefix/);
  assert.throws(() => new NetstringDecoder().push(Buffer.from("012:")), /invalid length prefix/);
  assert.throws(() => new NetstringDecoder().push(Buffer.from("12345678901")), /length prefix too long/);
  assert.throws(() => new NetstringDecoder(4).push(Buffer.from("5:")), /exceeds 4/);
});

test.run();
