/*
 * The iot-service sample's own services: RegistrationService.Register
 * appends Registered{secret} to the journal that EventsBySlices serves, and
 * SensorTwinService.GetTemperature reads the latest consumed TemperatureRead.
 */
import type * as grpc from "@grpc/grpc-js";
import { REGISTRATION_ENTITY_TYPE } from "./producer-protocol.js";
import { encodeRegistered, REGISTERED_TYPE_URL } from "./protos.js";
import type { JournalEvent, StandinStore } from "./standin-store.js";
import { asStatusError, serviceError, StatusError } from "./status-error.js";
import type { CurrentTemperature, GetTemperatureRequest, RegisterRequest } from "./wire.js";

/** The sample's entity type of the sensors whose temperatures are consumed. */
export const SENSOR_ENTITY_TYPE = "Sensor";

/** Appends a Registered event for `sensorEntityId` (any non-empty string); the caller notifies live streams. */
export function appendRegistration(store: StandinStore, sensorEntityId: string, secret: string, nowUs: number): JournalEvent {
  if (sensorEntityId === "") throw new StatusError("INVALID_ARGUMENT", "sensor_entity_id is empty");
  const event = store.append(`${REGISTRATION_ENTITY_TYPE}|${sensorEntityId}`, REGISTERED_TYPE_URL, encodeRegistered(secret), nowUs);
  store.count("registered");
  return event;
}

export function iotServices(store: StandinStore, register: (sensorEntityId: string, secret: string) => JournalEvent) {
  const answer = <T>(callback: grpc.sendUnaryData<T>, run: () => T) => {
    try {
      callback(null, run());
    } catch (e) {
      callback(serviceError(asStatusError(e)));
    }
  };
  const registration: grpc.UntypedServiceImplementation = {
    Register(call: grpc.ServerUnaryCall<RegisterRequest, object>, callback: grpc.sendUnaryData<object>) {
      answer(callback, () => (register(call.request.sensor_entity_id, call.request.secret), {}));
    },
  };
  const sensorTwin: grpc.UntypedServiceImplementation = {
    GetTemperature(call: grpc.ServerUnaryCall<GetTemperatureRequest, CurrentTemperature>, callback: grpc.sendUnaryData<CurrentTemperature>) {
      answer(callback, () => {
        const id = call.request.sensor_entity_id;
        const temperature = store.latestTemperature(`${SENSOR_ENTITY_TYPE}|${id}`);
        if (temperature === undefined) throw new StatusError("NOT_FOUND", `no temperature consumed for sensor ${JSON.stringify(id)}`);
        return { sensor_entity_id: id, temperature };
      });
    },
  };
  return { registration, sensorTwin };
}
