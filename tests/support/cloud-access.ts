/*
 * The reference cloud's credentials in tests: one token per role, known to
 * the test, so a test can act as an admin, a gateway or a consumer, and
 * startCloud's `credentials` for them.
 */
import type { CloudCredentials } from "../../simulator/cloud/access.js";

export const ADMIN_TOKEN = "test-admin-token-0123456789";
export const GATEWAY_TOKEN = "test-gateway-token-0123456789";
export const CONSUMER_TOKEN = "test-consumer-token-0123456789";

export const TEST_CREDENTIALS: CloudCredentials = Object.freeze({
  adminTokens: [ADMIN_TOKEN],
  gatewayTokens: [GATEWAY_TOKEN],
  consumerTokens: [CONSUMER_TOKEN],
});

export const authHeader = (token: string) => ({ authorization: `Bearer ${token}` });
