import { exports } from "cloudflare:workers";
import { expect, it } from "vitest";
import { makeOrg, makeToken } from "./support/fixtures";

it("verifies a fresh token by ?session=", async () => {
  const org = await makeOrg();
  const { secret, token } = await makeToken(org);
  const res = await exports.default.fetch(`https://tessera.test/v1/verify?session=${secret}&permission=analysis:execute&project=${org.projectKeys.alpha}`);
  expect(res.status).toBe(200);
  const body = await res.json<{ result: number; token: { id: string } }>();
  expect(body.result).toBe(0);
  expect(body.token.id).toBe(token.id);
});
