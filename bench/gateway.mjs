// The gateway pair: the bench build's own /__bench/upstream, called directly and through /gw/bench/.
import { post } from "./harness.mjs";

/** Registers the upstream (the bench worker itself, on loopback) and checks one request gets through. */
export async function setupGateway(url, org, secret) {
  await post(url, "/__bench/gateway", { org, origin: new URL("/__bench/upstream", url).href });
  const path = "/gw/bench/v1/items";
  const res = await fetch(new URL(path, url), { headers: { authorization: `Bearer ${secret}` } });
  const body = await res.json();
  if (res.status !== 200 || !body.ok || body.tokenId === null) {
    throw new Error(`gateway sanity check: ${res.status} ${JSON.stringify(body)}`);
  }
  return { path };
}
