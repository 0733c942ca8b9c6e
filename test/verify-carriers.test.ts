import { beforeAll, describe, expect, it } from "vitest";
import { makeOrg, makeToken, type OrgFixture } from "./support/fixtures";
import { readVerify, verifyUrl, viaEntrypoint } from "./support/verify-client";

let org: OrgFixture;
let secret: string;
let tokenId: string;
let other: string;

beforeAll(async () => {
  org = await makeOrg();
  ({
    secret,
    token: { id: tokenId },
  } = await makeToken(org));
  ({ secret: other } = await makeToken(org, { name: "second" }));
});

const basic = (user: string, password = "") => `Basic ${btoa(`${user}:${password}`)}`;

async function expectValid(res: Response) {
  const body = await readVerify(res);
  expect(res.status, JSON.stringify(body)).toBe(200);
  expect(body).toMatchObject({ result: 0, valid: true, token: { id: tokenId } });
}

async function expectCode(res: Response, status: number, result: number, error: string) {
  expect(res.status).toBe(status);
  expect(await readVerify(res)).toMatchObject({ result, valid: false, error });
}

describe("every carrier of docs/DESIGN.md §3 is accepted", () => {
  const carriers: [string, () => [string, RequestInit?]][] = [
    ["Authorization: Bearer", () => [verifyUrl(), { headers: { Authorization: `Bearer ${secret}` } }]],
    [
      "Authorization: bearer (scheme is case-insensitive)",
      () => [verifyUrl(), { headers: { Authorization: `bearer ${secret}` } }],
    ],
    [
      "Authorization: Basic base64(T:) as scanners send it",
      () => [verifyUrl(), { headers: { Authorization: basic(secret) } }],
    ],
    [
      "Authorization: Basic base64(T) without the colon",
      () => [verifyUrl(), { headers: { Authorization: `Basic ${btoa(secret)}` } }],
    ],
    [
      "Authorization: Basic base64(:T), token as the password",
      () => [verifyUrl(), { headers: { Authorization: basic("", secret) } }],
    ],
    ["X-Api-Key", () => [verifyUrl(), { headers: { "X-Api-Key": secret } }]],
    ["?session=", () => [verifyUrl({ session: secret })]],
    ["?access_token=", () => [verifyUrl({ accessToken: secret })]],
  ];
  for (const [name, request] of carriers) {
    it(`GET with ${name}`, async () => {
      const [url, init] = request();
      await expectValid(await viaEntrypoint(url, init));
    });
    it(`POST with ${name}`, async () => {
      const [url, init] = request();
      await expectValid(await viaEntrypoint(url, { ...init, method: "POST" }));
    });
  }

  it("accepts the same token on several carriers at once", async () => {
    const res = await viaEntrypoint(verifyUrl({ session: secret, accessToken: secret }), {
      headers: { Authorization: `Bearer ${secret}`, "X-Api-Key": secret },
    });
    await expectValid(res);
  });

  it("refuses two carriers with different tokens (code 11), whichever the pair", async () => {
    const pairs: [string, RequestInit?][] = [
      [verifyUrl({ session: secret }), { headers: { Authorization: `Bearer ${other}` } }],
      [verifyUrl(), { headers: { Authorization: `Bearer ${secret}`, "X-Api-Key": other } }],
      [verifyUrl({ session: secret, accessToken: other })],
      [`${verifyUrl({ session: secret })}&session=${other}`],
      [verifyUrl({ accessToken: other }), { headers: { Authorization: basic(secret) } }],
    ];
    for (const [url, init] of pairs) await expectCode(await viaEntrypoint(url, init), 400, 11, "invalid_request");
  });

  it("trims a pasted query value as it trims header values: a trailing newline or spaces", async () => {
    for (const pasted of [`${secret}\n`, `${secret}\r\n`, `  ${secret}  `, `${secret}\t`]) {
      await expectValid(await viaEntrypoint(verifyUrl({ session: pasted })));
      await expectValid(await viaEntrypoint(verifyUrl({ accessToken: pasted })));
      // Once trimmed it is the same token as a header's, not a second, different one.
      await expectValid(await viaEntrypoint(verifyUrl({ session: pasted }), { headers: { "X-Api-Key": secret } }));
    }
    await expectCode(await viaEntrypoint(verifyUrl({ session: " \n" })), 401, 1, "token_missing");
  });

  it("answers code 1 when no carrier holds a token, and code 11 for an unknown Authorization scheme", async () => {
    await expectCode(await viaEntrypoint(verifyUrl()), 401, 1, "token_missing");
    await expectCode(
      await viaEntrypoint(verifyUrl(), { headers: { Authorization: `Token ${secret}` } }),
      400,
      11,
      "invalid_request",
    );
  });
});

describe("checks in the query or in a POST JSON body", () => {
  const post = (body: unknown, url = verifyUrl()) =>
    viaEntrypoint(url, {
      method: "POST",
      headers: { Authorization: `Bearer ${secret}`, "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });

  it("takes permission (a string or a list) and project from the body", async () => {
    await expectValid(
      await post({ permission: ["analysis:execute", "project:browse"], project: org.projectKeys.alpha }),
    );
    await expectValid(await post({ permission: "analysis:execute" }));
    await expectCode(
      await post({ permission: ["analysis:execute", "environment:control:stop"] }),
      403,
      7,
      "permission_denied",
    );
    await expectCode(await post({ project: "no-such-project" }), 403, 8, "project_out_of_scope");
  });

  it("adds body permissions to query permissions: all must be held", async () => {
    const url = verifyUrl({ permission: ["analysis:execute"] });
    await expectValid(await post({ permission: ["project:browse"] }, url));
    await expectCode(await post({ permission: ["environment:control:stop"] }, url), 403, 7, "permission_denied");
  });

  it("accepts an empty POST body, and refuses a project given twice with different keys", async () => {
    await expectValid(
      await viaEntrypoint(verifyUrl(), { method: "POST", headers: { Authorization: `Bearer ${secret}` } }),
    );
    await expectValid(await post({ project: org.projectKeys.alpha }, verifyUrl({ project: org.projectKeys.alpha })));
    await expectCode(
      await post({ project: org.projectKeys.beta }, verifyUrl({ project: org.projectKeys.alpha })),
      400,
      11,
      "invalid_request",
    );
    const twice = `${verifyUrl({ session: secret, project: org.projectKeys.alpha })}&project=${org.projectKeys.beta}`;
    await expectCode(await viaEntrypoint(twice), 400, 11, "invalid_request");
  });

  it("never takes the token from the body, and says so rather than answering as if none was sent", async () => {
    const res = await viaEntrypoint(verifyUrl(), {
      method: "POST",
      body: JSON.stringify({ session: secret, token: secret }),
    });
    await expectCode(res, 400, 11, "invalid_request");
  });
});
