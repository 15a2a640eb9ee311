/*
 * GET /metrics: the gateway's stats as Prometheus text, through prom-client
 * with a registry of its own (never the global one, so two gateways in one
 * process, as in tests, do not share or clash).
 *
 * Every metric is one row of GATEWAY_METRICS: a dotted path into the stats
 * snapshot, a name, a kind and a help text. Adding a counter to GatewayStats
 * and exposing it is one line here. A path that names an object of numbers
 * becomes one series per key (`label`); one that names a string becomes a
 * gauge of 1 with the string as its label (the relay's state).
 *
 * Each scrape takes one snapshot (the stats read the store) and every
 * metric's collect() reads from it.
 */
import { collectDefaultMetrics, Counter, Gauge, Registry } from "prom-client";
import { LISTENER_METRICS } from "../ingest/listener-stats.js";
import { heapAfterMajorGc } from "./heap-after-gc.js";

/** The live heap (heap-after-gc.ts), beside prom-client's heap in use, which counts garbage too. */
export const HEAP_AFTER_GC_METRIC = "xsedge_heap_after_major_gc_bytes";

export interface MetricSpec {
  /** Dotted path into the stats snapshot, e.g. "ingest.stored". */
  path: string;
  name: string;
  kind: "counter" | "gauge";
  help: string;
  /** The label for a path naming an object of numbers or a string. */
  label?: string;
  /** Multiplies the value: stats keep milliseconds, Prometheus wants seconds (0.001). */
  scale?: number;
}

const counter = (path: string, name: string, help: string, label?: string): MetricSpec => ({ path, name, kind: "counter", help, label });
const gauge = (path: string, name: string, help: string, label?: string): MetricSpec => ({ path, name, kind: "gauge", help, label });
const seconds = (path: string, name: string, help: string): MetricSpec => ({ path, name, kind: "gauge", help, scale: 0.001 });

export const GATEWAY_METRICS: readonly MetricSpec[] = Object.freeze([
  counter("ingest.stored", "xsedge_ingest_stored_total", "Observations stored (and acknowledged to their device)."),
  counter("ingest.duplicate", "xsedge_ingest_duplicate_total", "Device retries of observations already stored."),
  counter("ingest.refused", "xsedge_ingest_refused_total", "Payloads refused and quarantined."),
  counter("ingest.refusedByReason", "xsedge_ingest_refused_by_reason_total", "Payloads refused, by reason.", "reason"),
  counter("ingest.failed", "xsedge_ingest_failed_total", "Publishes the store could not commit (not acknowledged)."),
  counter("ingest.untimed", "xsedge_ingest_untimed_total", "Observations stored before their boot's clock anchor."),
  counter("ingest.anchors", "xsedge_ingest_anchors_total", "Clock anchors received, by decision.", "decision"),
  counter("ingest.timeFilled", "xsedge_ingest_time_filled_total", "Stored observations a later anchor gave a time."),
  counter("ingest.timeCorrected", "xsedge_ingest_time_corrected_total", "Unrelayed observations whose time a better anchor changed."),
  counter("relay.relayed", "xsedge_relay_relayed_total", "Observations the cloud acknowledged."),
  counter("relay.batches", "xsedge_relay_batches_total", "Relay requests acknowledged."),
  counter("relay.failures", "xsedge_relay_failures_total", "Relay requests that failed or were partly acknowledged."),
  gauge("relay.consecutiveFailures", "xsedge_relay_consecutive_failures", "Failed relay requests since the last success."),
  gauge("relay.backlog", "xsedge_relay_backlog", "Stored observations not yet acknowledged by the cloud."),
  gauge("relay.state", "xsedge_relay_state", "The relay's phase (1 for the current one).", "state"),
  gauge("store.observations", "xsedge_store_observations", "Observations in the store (-1: store closed)."),
  gauge("store.unrelayed", "xsedge_store_unrelayed", "Observations in the outbox (-1: store closed)."),
  gauge("store.untimed", "xsedge_store_untimed", "Observations without a wall time (-1: store closed)."),
  gauge("store.anchors", "xsedge_store_anchors", "Clock anchors kept, one per device boot (-1: store closed)."),
  gauge("store.rejected", "xsedge_store_rejected", "Quarantined payloads (-1: store closed)."),
  gauge("mqttClients", "xsedge_mqtt_clients", "Connected MQTT clients."),
  gauge("http.sseClients", "xsedge_http_sse_clients", "Open Server-Sent Events streams."),
  counter("http.sseStalled", "xsedge_http_sse_stalled_total", "SSE clients disconnected for not reading."),
  counter("http.sseRefused", "xsedge_http_sse_refused_total", "SSE clients refused, by the limit (http.sse.maxClients, maxClientsPerAddress).", "limit"),
  gauge("http.sseBufferedBytes", "xsedge_http_sse_buffered_bytes", "Bytes queued for the open SSE streams, all together."),
  gauge("http.sseLimits.maxClients", "xsedge_http_sse_max_clients", "SSE streams allowed at once (http.sse.maxClients)."),
  gauge("http.sseLimits.maxClientsPerAddress", "xsedge_http_sse_max_clients_per_address", "SSE streams allowed from one address (http.sse.maxClientsPerAddress)."),
  gauge("http.sseLimits.maxBufferedBytes", "xsedge_http_sse_max_buffered_bytes", "Bytes queued for one SSE stream before it waits (http.sse.maxBufferedBytes)."),
  gauge("http.alertStreams.clients", "xsedge_http_alert_streams", "Open alert streams (/api/v1/rules/alerts/stream)."),
  counter("http.alertStreams.stalled", "xsedge_http_alert_streams_stalled_total", "Alert stream clients disconnected for not reading."),
  counter("http.alertStreams.refused", "xsedge_http_alert_streams_refused_total", "Alert stream clients refused, by the limit.", "limit"),
  counter("http.authRefused", "xsedge_http_auth_refused_total", "Local API requests refused for want of a valid credential, by reason.", "reason"),
  gauge("outbox.depth", "xsedge_outbox_depth", "Unrelayed observations, as the outbox counts them."),
  gauge("outbox.usedBytes", "xsedge_outbox_used_bytes", "Bytes the store uses on disk (-1: store closed)."),
  gauge("outbox.maxBytes", "xsedge_outbox_max_bytes", "The store's disk cap."),
  gauge("outbox.highWater", "xsedge_outbox_high_water", "Unrelayed observations above which acknowledgements are held."),
  gauge("outbox.held", "xsedge_outbox_held", "Publishes held unacknowledged for backpressure now."),
  gauge("outbox.awaitingCommit", "xsedge_outbox_awaiting_commit", "Publishes waiting for their group commit now."),
  gauge("outbox.awaitingSync", "xsedge_outbox_awaiting_sync", "Committed groups waiting for the WAL's fsync now (their PUBACKs follow it)."),
  counter("outbox.failedSyncs", "xsedge_outbox_failed_syncs_total", "Committed groups whose fsync failed: not acknowledged, the devices send them again."),
  counter("outbox.evictedRelayed", "xsedge_outbox_evicted_relayed_total", "Relayed observations evicted by the disk cap."),
  counter("outbox.evictedUnrelayed", "xsedge_outbox_evicted_unrelayed_total", "Unrelayed observations evicted by the disk cap (lost to the cloud)."),
  counter("outbox.quarantineEvicted", "xsedge_outbox_quarantine_evicted_total", "Quarantined payloads evicted by the quarantine cap."),
  counter("outbox.heldForBackpressure", "xsedge_outbox_held_for_backpressure_total", "Publishes held for backpressure."),
  counter("outbox.refusedForBackpressure", "xsedge_outbox_refused_for_backpressure_total", "Publishes refused (not acknowledged) for backpressure."),
  counter("outbox.rateLimited", "xsedge_outbox_rate_limited_total", "Publishes delayed by the per-client rate limit."),
  counter("outbox.rateRefused", "xsedge_outbox_rate_refused_total", "Publishes refused (not acknowledged) by the per-client rate limit."),
  counter("outbox.commits", "xsedge_outbox_commits_total", "Group commits."),
  counter("auth.accepted", "xsedge_auth_accepted_total", "Device CONNECTs accepted."),
  counter("auth.unregistered", "xsedge_auth_unregistered_total", "Device CONNECTs refused: sensor not registered."),
  counter("auth.badSecret", "xsedge_auth_bad_secret_total", "Device CONNECTs refused: wrong or missing secret."),
  counter("auth.wrongSensor", "xsedge_auth_wrong_sensor_total", "Publishes refused: for a sensor other than the one logged in."),
  counter("auth.tlsFailed", "xsedge_auth_tls_failed_total", "TLS handshakes that failed."),
  ...LISTENER_METRICS,
  gauge("registration.sensors", "xsedge_registration_sensors", "Registered sensors the gateway knows."),
  gauge("registration.offset", "xsedge_registration_offset", "Registration stream offset applied."),
  counter("registration.events", "xsedge_registration_events_total", "Registration events applied."),
  counter("registration.badEvents", "xsedge_registration_bad_events_total", "Registration events skipped as malformed."),
  counter("registration.reconnects", "xsedge_registration_reconnects_total", "Registration stream reconnects."),
  gauge("registration.connected", "xsedge_registration_connected", "1 while the registration stream is connected."),
  gauge("registration.state", "xsedge_registration_stream_state", "The Akka registration stream's state (1 for the current one).", "state"),
  seconds("registration.streamAgeMs", "xsedge_registration_stream_age_seconds", "Age of the current Akka registration stream."),
  seconds("registration.idleMs", "xsedge_registration_stream_idle_seconds", "Time since the Akka registration stream last brought a message."),
  seconds("registration.downForMs", "xsedge_registration_stream_down_seconds", "Time the Akka registration stream has been down (0 while connected)."),
  counter("registration.recycles", "xsedge_registration_stream_recycles_total", "Akka registration streams requested again after bringing nothing for the idle-recycle time."),
  counter("registration.duplicates", "xsedge_registration_duplicates_total", "Akka registration events skipped as already applied."),
  counter("registration.gaps", "xsedge_registration_gaps_total", "Akka registration events whose seq_nr skipped some (accepted)."),
  counter("registration.loaded", "xsedge_registration_loaded_total", "Backtracking registration events fetched with LoadEvent."),
  counter("registration.loadFailures", "xsedge_registration_load_failures_total", "LoadEvent calls that failed."),
  gauge("cloudLink.connected", "xsedge_cloud_link_connected", "1 while the Akka ConsumeEvent stream is started and open."),
  gauge("cloudLink.inFlight", "xsedge_cloud_link_in_flight", "Events sent to the cloud and not yet acknowledged."),
  counter("cloudLink.streamsStarted", "xsedge_cloud_link_streams_started_total", "ConsumeEvent streams that got their ConsumerEventStart."),
  counter("cloudLink.eventsSent", "xsedge_cloud_link_events_sent_total", "Events written to the cloud, resends included."),
  counter("cloudLink.acked", "xsedge_cloud_link_acked_total", "ConsumerEventAcks matched to an event in flight."),
  counter("cloudLink.unexpectedAcks", "xsedge_cloud_link_unexpected_acks_total", "Acks for no event in flight (ignored)."),
  counter("cloudLink.malformedResponses", "xsedge_cloud_link_malformed_responses_total", "Messages from the cloud that could not be read."),
  counter("cloudLink.resets", "xsedge_cloud_link_resets_total", "Streams the cloud ended or reset with events in flight."),
  counter("cloudLink.ackTimeouts", "xsedge_cloud_link_ack_timeouts_total", "Streams given up for want of an ack."),
  counter("cloudLink.startTimeouts", "xsedge_cloud_link_start_timeouts_total", "Streams given up for want of ConsumerEventStart."),
  counter("cloudLink.refused", "xsedge_cloud_link_refused_total", "Streams the cloud refused (e.g. PERMISSION_DENIED)."),
  counter("cloudLink.unavailable", "xsedge_cloud_link_unavailable_total", "Attempts that found the cloud unreachable."),
  counter("udp.datagrams", "xsedge_udp_datagrams_total", "UDP datagrams received."),
  counter("udp.stored", "xsedge_udp_stored_total", "Observations stored from UDP."),
  counter("udp.refusedByReason", "xsedge_udp_refused_by_reason_total", "UDP datagrams refused, by reason.", "reason"),
  counter("udp.perSourceLimited", "xsedge_udp_per_source_limited_total", "UDP datagrams dropped by the per-source limit."),
  counter("udp.failed", "xsedge_udp_failed_total", "UDP datagrams the store could not commit (lost)."),
  counter("externalBroker.messages", "xsedge_external_broker_messages_total", "Messages received from the external broker."),
  counter("externalBroker.acked", "xsedge_external_broker_acked_total", "Messages acknowledged to the external broker after their commit."),
  counter("externalBroker.notAcked", "xsedge_external_broker_not_acked_total", "Messages left for the external broker to resend."),
  counter("externalBroker.unregistered", "xsedge_external_broker_unregistered_total", "External-broker messages of unregistered sensors, refused."),
  gauge("externalBroker.awaitingCommit", "xsedge_external_broker_awaiting_commit", "External-broker messages handed to the outbox and not yet committed."),
  gauge("rules.rules", "xsedge_rules", "Gateway rules deployed."),
  gauge("rules.running", "xsedge_rules_running", "Rules running (not disabled, not stopped after a fault)."),
  gauge("rules.workers", "xsedge_rules_workers", "xsnap-workers running rules."),
  counter("rules.workerRestarts", "xsedge_rules_worker_restarts_total", "Rule workers started again after one ended."),
  counter("rules.workerDeaths", "xsedge_rules_worker_deaths_total", "Rule workers that ended (a rule's compute or memory limit, a crash)."),
  counter("rules.commits", "xsedge_rules_commits_total", "Transactions committing rules' outputs and offsets."),
  counter("rules.commitFailures", "xsedge_rules_commit_failures_total", "Rules' commits the store refused (retried)."),
  counter("rules.verdictTimeouts", "xsedge_rules_verdict_timeouts_total", "Observations relayed because a rule's verdict did not come within rules.verdictWaitMs."),
  counter("rules.lateVerdicts", "xsedge_rules_late_verdicts_total", "Keep-local verdicts that came after their observation was relayed."),
  gauge("rules.heldForVerdicts", "xsedge_rules_held_for_verdicts", "Observations the relay's last read held for a rule's verdict."),
  counter("rules.events", "xsedge_rule_events_total", "Events a rule handled (observations and timers), by rule.", "rule"),
  counter("rules.derived", "xsedge_rule_derived_total", "Observations a rule derived, by rule.", "rule"),
  counter("rules.alerts", "xsedge_rule_alerts_total", "Alert changes a rule made, by rule.", "rule"),
  counter("rules.keptLocal", "xsedge_rule_kept_local_total", "Observations a rule kept at the gateway, by rule.", "rule"),
  counter("rules.failures", "xsedge_rule_failures_total", "Faults of a rule (throws, compute, memory, bad outputs), by rule.", "rule"),
  gauge("rules.lagObservations", "xsedge_rule_lag_observations", "Devices' observations a rule has not handled yet, by rule.", "rule"),
  gauge("rules.lagSeconds", "xsedge_rule_lag_seconds", "How long the oldest observation a rule has not handled has waited, by rule.", "rule"),
  gauge("rules.enabled", "xsedge_rule_enabled", "1 while a rule is enabled, by rule.", "rule"),
  gauge("rules.version", "xsedge_rule_version", "The version a rule runs, by rule.", "rule"),
  counter("alertSinks.webhook.delivered", "xsedge_alert_webhook_delivered_total", "Alerts the webhook took."),
  counter("alertSinks.webhook.failures", "xsedge_alert_webhook_failures_total", "Webhook deliveries that failed (retried)."),
  counter("alertSinks.webhook.refused", "xsedge_alert_webhook_refused_total", "Alerts the webhook refused for good (skipped)."),
  gauge("alertSinks.webhook.backlog", "xsedge_alert_webhook_backlog", "Alerts not yet delivered to the webhook."),
  counter("alertSinks.mqtt.delivered", "xsedge_alert_mqtt_delivered_total", "Alerts the MQTT broker acknowledged."),
  counter("alertSinks.mqtt.failures", "xsedge_alert_mqtt_failures_total", "MQTT alert publishes that failed (retried)."),
  gauge("alertSinks.mqtt.backlog", "xsedge_alert_mqtt_backlog", "Alerts not yet delivered to the MQTT broker."),
  counter("downlinks.submitted", "xsedge_downlinks_submitted_total", "Requests to devices accepted (settings, commands)."),
  counter("downlinks.refusedRequests", "xsedge_downlinks_refused_requests_total", "Requests to devices refused (unknown sensor, unreadable, queue full)."),
  counter("downlinks.delivered", "xsedge_downlinks_delivered_total", "Requests a device acknowledged (PUBACK)."),
  counter("downlinks.interrupted", "xsedge_downlinks_interrupted_total", "Sends a device's session ended before their PUBACK (queued again)."),
  counter("downlinks.refusedReports", "xsedge_downlinks_refused_reports_total", "Device reports refused, by reason.", "reason"),
  gauge("downlinks.requests", "xsedge_downlinks", "Requests to devices kept, by state.", "state"),
]);

/** prom-client default metrics that are gauges named like counters (`promtool check metrics` refuses them). */
export const MISNAMED_DEFAULT_METRICS: readonly string[] = Object.freeze(["nodejs_active_handles_total", "nodejs_active_requests_total", "nodejs_active_resources_total"]);

export interface MetricValue {
  labels: Record<string, string>;
  value: number;
}

/** The series one spec yields from a snapshot; none when the path is missing or not numeric. */
export function metricValues(snapshot: unknown, spec: MetricSpec): MetricValue[] {
  let node: unknown = snapshot;
  for (const key of spec.path.split(".")) node = typeof node === "object" && node !== null ? (node as Record<string, unknown>)[key] : undefined;
  const valid = (value: unknown): value is number => typeof value === "number" && Number.isFinite(value) && (spec.kind === "gauge" || value >= 0);
  if (valid(node)) return [{ labels: {}, value: node * (spec.scale ?? 1) }];
  if (typeof node === "boolean" && spec.kind === "gauge") return [{ labels: {}, value: node ? 1 : 0 }];
  if (spec.label === undefined) return [];
  if (typeof node === "string") return [{ labels: { [spec.label]: node }, value: 1 }];
  if (typeof node !== "object" || node === null) return [];
  const label = spec.label;
  return Object.entries(node).filter((entry): entry is [string, number] => valid(entry[1])).map(([key, value]) => ({ labels: { [label]: key }, value }));
}

export class GatewayMetrics {
  readonly #registry = new Registry();
  readonly #snapshot: () => unknown;
  #current: unknown;

  constructor(snapshot: () => unknown, specs: readonly MetricSpec[] = GATEWAY_METRICS) {
    this.#snapshot = snapshot;
    // Resident memory, CPU, heap, event-loop lag, open file descriptors...
    collectDefaultMetrics({ register: this.#registry });
    // prom-client names these gauges with a counter's _total suffix, which Prometheus's own
    // checker refuses; their per-type series (nodejs_active_handles{type}, ...) say the same.
    for (const name of MISNAMED_DEFAULT_METRICS) this.#registry.removeSingleMetric(name);
    heapAfterMajorGc();
    new Gauge({
      name: HEAP_AFTER_GC_METRIC,
      help: "JS heap in use outside the young generation just after the last major garbage collection: the live heap, without the garbage nodejs_heap_size_used_bytes counts between collections (0 before the first).",
      registers: [this.#registry],
      collect() {
        this.set(heapAfterMajorGc());
      },
    });
    const current = () => this.#current;
    for (const spec of specs) {
      const common = { name: spec.name, help: spec.help, labelNames: spec.label ? [spec.label] : [], registers: [this.#registry] };
      if (spec.kind === "counter") {
        new Counter({
          ...common,
          collect() {
            this.reset();
            for (const { labels, value } of metricValues(current(), spec)) this.inc(labels, value);
          },
        });
      } else {
        new Gauge({
          ...common,
          collect() {
            this.reset();
            for (const { labels, value } of metricValues(current(), spec)) this.set(labels, value);
          },
        });
      }
    }
  }

  get contentType(): string {
    return this.#registry.contentType;
  }

  /** The exposition text, from a fresh snapshot. */
  async text(): Promise<string> {
    this.#current = this.#snapshot();
    return this.#registry.metrics();
  }
}
