import { beforeAll, describe, expect, it } from "vitest";
import { generateTokenSecret } from "../worker/tokens/format";
import { makeOrg, makeToken } from "./support/fixtures";
import { type readVerify, verifyUrl, viaEntrypoint } from "./support/verify-client";

const TEN_KB = 10 * 1024;
let valid: string;
beforeAll(async () => {
  ({ secret: valid } = await makeToken(await makeOrg()));
});

interface Case {
  name: string;
  /** The answer's result code. */
  result: number;
  request: () => [string, RequestInit?];
}

const get = (url: string, headers: Record<string, string> = {}): [string, RequestInit] => [url, { headers }];
const post = (body: BodyInit, url = verifyUrl()): [string, RequestInit] => [
  url,
  { method: "POST", headers: { Authorization: `Bearer ${valid}`, "Content-Type": "application/json" }, body },
];
const longToken = () => `tso_${"A".repeat(TEN_KB)}`;
const basic = (text: string) => `Basic ${btoa(text)}`;

const cases: Case[] = [
  // Empty
  { name: "empty ?session=", result: 1, request: () => get(verifyUrl({ session: "" })) },
  { name: "empty ?access_token=", result: 1, request: () => get(verifyUrl({ accessToken: "" })) },
  { name: "empty Authorization", result: 1, request: () => get(verifyUrl(), { Authorization: "" }) },
  { name: "Bearer with nothing after it", result: 1, request: () => get(verifyUrl(), { Authorization: "Bearer " }) },
  { name: "empty X-Api-Key", result: 1, request: () => get(verifyUrl(), { "X-Api-Key": "" }) },
  { name: 'Basic of ":"', result: 1, request: () => get(verifyUrl(), { Authorization: basic(":") }) },
  { name: "empty permission", result: 11, request: () => get(`${verifyUrl({ session: valid })}&permission=`) },
  { name: "empty project", result: 11, request: () => get(`${verifyUrl({ session: valid })}&project=`) },
  // 10 KB
  { name: "10 KB ?session=", result: 2, request: () => get(verifyUrl({ session: longToken() })) },
  { name: "10 KB Bearer", result: 2, request: () => get(verifyUrl(), { Authorization: `Bearer ${longToken()}` }) },
  { name: "10 KB X-Api-Key", result: 2, request: () => get(verifyUrl(), { "X-Api-Key": longToken() }) },
  { name: "10 KB Basic", result: 2, request: () => get(verifyUrl(), { Authorization: basic(`${longToken()}:`) }) },
  {
    name: "a real token followed by 10 KB",
    result: 2,
    request: () => get(verifyUrl({ session: valid + "0".repeat(TEN_KB) })),
  },
  {
    name: "10 KB permission",
    result: 11,
    request: () => get(verifyUrl({ session: valid, permission: ["p".repeat(TEN_KB)] })),
  },
  { name: "10 KB project", result: 11, request: () => get(verifyUrl({ session: valid, project: "p".repeat(TEN_KB) })) },
  {
    name: "10 KB of permissions",
    result: 11,
    request: () => get(verifyUrl({ session: valid, permission: Array.from({ length: 1000 }, (_, i) => `p${i}`) })),
  },
  { name: "10 KB JSON body", result: 11, request: () => post(JSON.stringify({ permission: ["x".repeat(TEN_KB)] })) },
  {
    name: "10 KB body sent in chunks, without Content-Length",
    result: 11,
    request: () => {
      const chunk = new TextEncoder().encode(`{"permission":["${"x".repeat(1024)}`);
      const body = new ReadableStream({
        start(controller) {
          for (let i = 0; i < 10; i++) controller.enqueue(chunk);
          controller.close();
        },
      });
      return post(body);
    },
  },
  // Non-ASCII
  { name: "non-ASCII in ?session=", result: 2, request: () => get(verifyUrl({ session: `tsö_${valid.slice(4)}` })) },
  {
    name: "full-width digits in a token",
    result: 2,
    request: () => get(verifyUrl({ session: `${valid.slice(0, -1)}１` })),
  },
  // Workerd warns about these header values with the value in clear: never a real secret here.
  {
    name: "Latin-1 in X-Api-Key",
    result: 2,
    request: () => get(verifyUrl(), { "X-Api-Key": `tsó_${generateTokenSecret("org").slice(4)}` }),
  },
  { name: "non-ASCII Basic", result: 11, request: () => get(verifyUrl(), { Authorization: "Basic dHNvX2é=" }) },
  {
    name: "non-ASCII permission",
    result: 11,
    request: () => get(verifyUrl({ session: valid, permission: ["anälysis:execute"] })),
  },
  { name: "non-ASCII project", result: 11, request: () => get(verifyUrl({ session: valid, project: "prøject" })) },
  {
    name: "body that is not UTF-8",
    result: 11,
    request: () => post(new Uint8Array([0x7b, 0x22, 0x70, 0xff, 0xfe, 0x22, 0x7d])),
  },
  { name: "non-ASCII permission in the body", result: 11, request: () => post(JSON.stringify({ permission: ["😀"] })) },
  // %00
  { name: "?session=%00", result: 2, request: () => get(`${verifyUrl()}?session=%00`) },
  { name: "a real token with %00 after it", result: 2, request: () => get(`${verifyUrl()}?session=${valid}%00`) },
  { name: "a real token with %00 before it", result: 2, request: () => get(`${verifyUrl()}?session=%00${valid}`) },
  { name: "NUL in Basic", result: 2, request: () => get(verifyUrl(), { Authorization: basic(`${valid}\0:`) }) },
  { name: "permission=%00", result: 11, request: () => get(`${verifyUrl({ session: valid })}&permission=%00`) },
  { name: "project with %00", result: 11, request: () => get(`${verifyUrl({ session: valid })}&project=a%00b`) },
  {
    name: "NUL in a body permission",
    result: 11,
    request: () => post(JSON.stringify({ permission: ["analysis:execute\u0000"] })),
  },
  // Double carriers
  {
    name: "Bearer and X-Api-Key disagree",
    result: 11,
    request: () => get(verifyUrl(), { Authorization: `Bearer ${valid}`, "X-Api-Key": generateTokenSecret("org") }),
  },
  {
    name: "?session= twice, different",
    result: 11,
    request: () => get(`${verifyUrl({ session: valid })}&session=${generateTokenSecret("org")}`),
  },
  {
    name: "?session= and ?access_token= disagree",
    result: 11,
    request: () => get(verifyUrl({ session: valid, accessToken: generateTokenSecret("org") })),
  },
  {
    name: "a token and an empty carrier",
    result: 11,
    request: () => get(verifyUrl({ session: valid, accessToken: "" })),
  },
  {
    name: "two Authorization headers",
    result: 2,
    request: () => {
      const headers = new Headers();
      headers.append("Authorization", `Bearer ${valid}`);
      headers.append("Authorization", `Bearer ${generateTokenSecret("org")}`);
      return [verifyUrl(), { headers }];
    },
  },
  // Other shapes
  {
    name: "Basic with a user and a password",
    result: 11,
    request: () => get(verifyUrl(), { Authorization: basic(`${valid}:secret`) }),
  },
  { name: "Basic that is not base64", result: 11, request: () => get(verifyUrl(), { Authorization: "Basic ***" }) },
  {
    name: "unknown Authorization scheme",
    result: 11,
    request: () => get(verifyUrl(), { Authorization: `Token ${valid}` }),
  },
  { name: "body that is not JSON", result: 11, request: () => post("permission=analysis:execute") },
  { name: "JSON array body", result: 11, request: () => post("[]") },
  { name: "JSON null body", result: 11, request: () => post("null") },
  {
    name: "the token in the body instead of a carrier",
    result: 11,
    request: () => [
      verifyUrl(),
      { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ token: valid }) },
    ],
  },
  {
    name: "a session field in the body beside a carrier",
    result: 11,
    request: () => post(JSON.stringify({ session: valid, permission: [] })),
  },
  { name: "permission of the wrong type", result: 11, request: () => post(JSON.stringify({ permission: 5 })) },
  { name: "permission list with null", result: 11, request: () => post(JSON.stringify({ permission: [null] })) },
  { name: "project of the wrong type", result: 11, request: () => post(JSON.stringify({ project: ["a"] })) },
  {
    name: "33 permissions",
    result: 11,
    request: () => post(JSON.stringify({ permission: Array.from({ length: 33 }, (_, i) => `p${i}`) })),
  },
  { name: "PUT", result: 11, request: () => [verifyUrl({ session: valid }), { method: "PUT" }] },
  { name: "DELETE", result: 11, request: () => [verifyUrl({ session: valid }), { method: "DELETE" }] },
];

describe("bad input gets a 4xx JSON answer, never a 500", () => {
  for (const c of cases) {
    it(`${c.name}: result ${c.result}`, async () => {
      const [url, init] = c.request();
      const res = await viaEntrypoint(url, init);
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      expect(res.headers.get("Content-Type")).toMatch(/^application\/json/);
      expect(res.headers.get("Cache-Control")).toBe("no-store");
      expect(res.headers.get("Referrer-Policy")).toBe("no-referrer");
      const text = await res.text();
      const body = JSON.parse(text) as Awaited<ReturnType<typeof readVerify>>;
      expect(body).toMatchObject({ valid: false, result: c.result });
      // The answer never repeats what the client sent as a token.
      expect(text).not.toContain(valid);
      expect(text).not.toContain("AAAAAAAAAAAAAAAA");
    });
  }
});
