import { Webhook } from "standardwebhooks";

/** A Standard Webhooks secret (`whsec_` + base64 of 32 bytes), the same for the same seed. */
export function webhookSecret(seed: string): string {
  const bytes = new TextEncoder().encode(seed.padEnd(32, ".").slice(0, 32));
  return `whsec_${btoa(String.fromCharCode(...bytes))}`;
}

/**
 * What a receiver does with the `standardwebhooks` library: the payload when the delivery's headers
 * sign its body under `secret` within the library's 5-minute tolerance; throws otherwise.
 */
export function verifiedPayload(secret: string, headers: Headers, body: string): unknown {
  return new Webhook(secret).verify(body, Object.fromEntries(headers));
}
