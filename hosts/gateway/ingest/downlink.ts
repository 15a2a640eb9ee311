/** What the device listener offers for messages to devices (issue 2.3's downlink); topics per modules/SPEC.md. */
export const downlinkTopic = (sensorId: string): string => `xsedge/v1/${sensorId}/down`;
export const reportTopic = (sensorId: string): string => `xsedge/v1/${sensorId}/report`;
export interface DeviceDownlink {
  /** QoS 1 PUBLISH on the device's downlink topic; resolves on its PUBACK, rejects if the session ends first. */
  send(sensorId: string, payload: Uint8Array): Promise<void>;
  /** Whether the sensor has an authenticated session subscribed to its downlink topic. */
  isReady(sensorId: string): boolean;
  /** Called each time a sensor's session subscribes to its downlink topic (so queued messages can go). */
  onReady(listener: (sensorId: string) => void): () => void;
  /** Where a device's publishes on its report topic go (QoS 1; PUBACK after the handler resolves). */
  onReport(handler: (sensorId: string, payload: Uint8Array) => Promise<void>): void;
}
