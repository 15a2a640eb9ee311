/*
 * What a device may subscribe to: its own downlink topic, at QoS 1 at most,
 * and nothing else (issue 2.3: only the device's own topics are readable by
 * it). Pure: the session (device-session.ts) writes the SUBACK, counts and
 * logs what was denied.
 */
import type { ISubscribePacket, IUnsubscribePacket } from "mqtt-packet";
import { SUBACK_FAILURE, frameBytes, hasRequiredFlags, parseWhole } from "./mqtt-wire.js";

/** A SUBSCRIBE or UNSUBSCRIBE frame as mqtt-packet reads it, or what is wrong with it. */
export function readSubscription(first: number, bytes: Buffer, start: number, end: number): ISubscribePacket | IUnsubscribePacket | string {
  const name = first >> 4 === 8 ? "SUBSCRIBE" : "UNSUBSCRIBE";
  if (!hasRequiredFlags(first)) return `${name} without its reserved flags 0010 [MQTT-3.8.1-1]`;
  const packet = parseWhole(frameBytes(first, bytes, start, end));
  if (packet instanceof Error) return `unreadable ${name} (${packet.message})`;
  if (packet.cmd !== "subscribe" && packet.cmd !== "unsubscribe") return `unreadable ${name} (${packet.cmd})`;
  // mqtt-packet reads an empty list; a SUBACK of no return codes is one it cannot write (it throws).
  if (packet.cmd === "subscribe" && packet.subscriptions.length === 0) return "SUBSCRIBE without a topic filter [MQTT-3.8.3-3]";
  if (packet.cmd === "unsubscribe" && packet.unsubscriptions.length === 0) return "UNSUBSCRIBE without a topic filter [MQTT-3.10.3-2]";
  return packet;
}

/** The SUBACK's return codes, one per requested topic [MQTT-3.9.3-1], and the topics refused. */
export function grantSubscriptions(requested: ReadonlyArray<{ topic: string; qos: number }>, ownDownlink: string): { granted: number[]; denied: string[] } {
  const denied: string[] = [];
  const granted = requested.map(({ topic, qos }) => {
    if (topic === ownDownlink) return Math.min(qos, 1);
    denied.push(topic);
    return SUBACK_FAILURE;
  });
  return { granted, denied };
}
