/*
 * What the device listener counts, and how /metrics shows it (the rows are
 * spread into api/metrics.ts's table, which cannot be imported from here).
 */

/** Why the listener refused or closed a connection, or refused a packet on it. */
export const LISTENER_REFUSALS = [
  // At accept (listener-limits.ts).
  "too-many-connections",
  "too-many-from-address",
  "too-many-unauthenticated",
  "too-many-unauthenticated-from-address",
  // Before or at CONNECT.
  "connect-timeout",
  "packet-too-large",
  "malformed",
  "not-connect-first",
  "protocol-version",
  "identifier-rejected",
  "login-locked-out",
  "login-busy",
  // After CONNECT.
  "qos2",
  "subscribe-denied",
  "unexpected-packet",
  "keep-alive-timeout",
] as const;
export type ListenerRefusal = (typeof LISTENER_REFUSALS)[number];

export interface ListenerStats {
  /** Connections open now (authenticated or not). */
  connections: number;
  /** Of them, not yet authenticated. */
  unauthenticated: number;
  /** Authenticated device sessions now. */
  sessions: number;
  refusedByReason: Record<ListenerRefusal, number>;
  /** Connections the other side closed before sending CONNECT (port scans, garbage, devices that gave up). */
  closedBeforeConnect: number;
  /** CONNECTs whose verification was held back for earlier failed logins (login-throttle.ts). */
  loginsDelayed: number;
  /** Wills in CONNECTs, ignored (never published): a will on a device's topic is not an observation. */
  willsIgnored: number;
  /** Publishes with the retain flag: stored as any other, never retained. */
  retainIgnored: number;
  /** Sessions closed because the same sensor logged in again [MQTT-3.1.4-2]. */
  takeovers: number;
  /** Sessions closed because the sensor's registration changed (new secret) or went. */
  revoked: number;
  downlink: { sent: number; acked: number; failed: number };
  reports: { received: number; handled: number; failed: number };
}

export function emptyListenerStats(): ListenerStats {
  return {
    connections: 0,
    unauthenticated: 0,
    sessions: 0,
    refusedByReason: Object.fromEntries(LISTENER_REFUSALS.map((r) => [r, 0])) as Record<ListenerRefusal, number>,
    closedBeforeConnect: 0,
    loginsDelayed: 0,
    willsIgnored: 0,
    retainIgnored: 0,
    takeovers: 0,
    revoked: 0,
    downlink: { sent: 0, acked: 0, failed: 0 },
    reports: { received: 0, handled: 0, failed: 0 },
  };
}

/** A row of api/metrics.ts's table (its MetricSpec): a path into the gateway's stats, under `mqtt`. */
export interface ListenerMetricRow {
  path: string;
  name: string;
  kind: "counter" | "gauge";
  help: string;
  label?: string;
}

export const LISTENER_METRICS: readonly ListenerMetricRow[] = Object.freeze([
  { path: "mqtt.connections", name: "xsedge_mqtt_connections", kind: "gauge", help: "Device connections open (authenticated or not)." },
  { path: "mqtt.unauthenticated", name: "xsedge_mqtt_unauthenticated_connections", kind: "gauge", help: "Device connections open that have not logged in yet." },
  { path: "mqtt.refusedByReason", name: "xsedge_mqtt_refused_total", kind: "counter", label: "reason", help: "Connections and packets the device listener refused, by reason (limits, protocol, identity)." },
  { path: "mqtt.closedBeforeConnect", name: "xsedge_mqtt_closed_before_connect_total", kind: "counter", help: "Connections closed by the other side before CONNECT." },
  { path: "mqtt.loginsDelayed", name: "xsedge_mqtt_logins_delayed_total", kind: "counter", help: "Device logins held back after earlier failures from the same address for the same sensor." },
  { path: "mqtt.willsIgnored", name: "xsedge_mqtt_wills_ignored_total", kind: "counter", help: "Wills in CONNECTs, ignored." },
  { path: "mqtt.retainIgnored", name: "xsedge_mqtt_retain_ignored_total", kind: "counter", help: "Publishes with the retain flag (stored, never retained)." },
  { path: "mqtt.takeovers", name: "xsedge_mqtt_takeovers_total", kind: "counter", help: "Sessions closed by a new login of the same sensor." },
  { path: "mqtt.revoked", name: "xsedge_mqtt_revoked_total", kind: "counter", help: "Sessions closed because their sensor's registration changed or was removed." },
  { path: "mqtt.downlink", name: "xsedge_mqtt_downlink_total", kind: "counter", label: "outcome", help: "Messages to devices on their downlink topic: sent, acked, failed." },
  { path: "mqtt.reports", name: "xsedge_mqtt_reports_total", kind: "counter", label: "outcome", help: "Publishes on devices' report topics: received, handled, failed." },
]);
