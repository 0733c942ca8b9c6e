// Bindings that exist only in the test pool (vitest.config.ts), to the auxiliary Workers.
declare global {
  namespace Cloudflare {
    interface Env {
      /** test/support/gateway-upstream.mjs: the upstream behind /gw/ in test/gateway.test.ts. */
      GATEWAY_UPSTREAM: Fetcher;
      /** examples/downstream, bound to Tessera's RPC entrypoint. */
      DOWNSTREAM_EXAMPLE: Fetcher;
      /** The example's TESSERA_SIGNING_SECRET, so a test can give it to the upstream in front of the example. */
      EXAMPLE_SIGNING_SECRET: string;
    }
  }
}

export {};
