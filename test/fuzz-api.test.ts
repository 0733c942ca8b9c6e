import { env, exports } from "cloudflare:workers";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { MANAGEMENT_CODES } from "../worker/errors";
import {
  descriptionField,
  isoDate,
  nameField,
  permissionNameField,
  projectKeyField,
  slugField,
} from "../worker/routes/api/schemas";
import { bulkBody, copyBody, editBody, toEpoch } from "../worker/routes/api/token-fields";
import { makeOrg, makeToken, type OrgFixture } from "./support/fixtures";

// Property-based tests of the management API's validators: the shared field schemas directly
// (10,000 generated inputs each: never a throw, accepted values round-trip), then the write routes
// over HTTP with generated bodies (never a 500, every refusal in the one error envelope, and a
// token created from a generated body verifies with exactly what the body asked for).

const RUNS = 10_000;
const HTTP_RUNS = 200;
// Bounded by the run counts; generous for a busy machine.
const BOUNDED_MS = 180_000;
const ORIGIN = "https://tessera.test";

const CONTROL_OR_FORMAT = /[\p{Cc}\p{Cf}]/u;
const anyText = fc.oneof(
  fc.string({ maxLength: 120 }),
  fc.string({ unit: "grapheme", maxLength: 120 }),
  fc.string({ unit: "binary", maxLength: 600 }),
);

describe("shared field validators (schemas.ts, token-fields.ts)", () => {
  it("name: accepted exactly when 1-100 characters after trimming without control or format characters, stored trimmed", {
    timeout: BOUNDED_MS,
  }, () => {
    fc.assert(
      fc.property(anyText, (input) => {
        const parsed = nameField.safeParse(input);
        const trimmed = input.trim();
        expect(parsed.success).toBe(trimmed.length >= 1 && trimmed.length <= 100 && !CONTROL_OR_FORMAT.test(trimmed));
        if (parsed.success) {
          expect(parsed.data).toBe(trimmed);
          expect(nameField.parse(parsed.data)).toBe(parsed.data);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it("description: accepted unchanged up to 500 characters, with line breaks and tabs but no other control or format characters", {
    timeout: BOUNDED_MS,
  }, () => {
    fc.assert(
      fc.property(fc.oneof(anyText, fc.string({ maxLength: 520 })), (input) => {
        const parsed = descriptionField.safeParse(input);
        const allowedControls = input.replace(/[\t\n\r]/g, "");
        expect(parsed.success).toBe(input.length <= 500 && !CONTROL_OR_FORMAT.test(allowedControls));
        if (parsed.success) expect(parsed.data).toBe(input);
      }),
      { numRuns: RUNS },
    );
  });

  it("slug, project key and permission name: generated valid values round-trip unchanged, anything else never throws", {
    timeout: BOUNDED_MS,
  }, () => {
    const cases = [
      { schema: slugField, valid: fc.stringMatching(/^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/) },
      { schema: projectKeyField, valid: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,150}$/) },
      { schema: permissionNameField, valid: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9:._-]{0,90}$/) },
    ];
    for (const { schema, valid } of cases) {
      fc.assert(
        fc.property(valid, anyText, (good, junk) => {
          expect(schema.parse(good)).toBe(good);
          const parsed = schema.safeParse(junk);
          if (parsed.success) expect(parsed.data).toBe(junk);
        }),
        { numRuns: RUNS },
      );
    }
  });

  it("expiry dates: any instant written in ISO 8601, in UTC or with an offset, reads back as the same instant", {
    timeout: BOUNDED_MS,
  }, () => {
    const instant = fc.date({
      min: new Date("1971-01-01T00:00:00Z"),
      max: new Date("2999-12-31T00:00:00Z"),
      noInvalidDate: true,
    });
    const offsetMinutes = fc.integer({ min: -12 * 60, max: 14 * 60 });
    fc.assert(
      fc.property(instant, offsetMinutes, (date, offset) => {
        const utc = date.toISOString();
        expect(toEpoch(isoDate.parse(utc))).toBe(date.getTime());
        const local = new Date(date.getTime() + offset * 60_000).toISOString().slice(0, -1);
        const sign = offset < 0 ? "-" : "+";
        const abs = Math.abs(offset);
        const written = `${local}${sign}${String(Math.floor(abs / 60)).padStart(2, "0")}:${String(abs % 60).padStart(2, "0")}`;
        expect(toEpoch(isoDate.parse(written))).toBe(date.getTime());
      }),
      { numRuns: RUNS },
    );
  });

  it("edit, copy and bulk bodies: any JSON value is accepted or refused, never thrown on", {
    timeout: BOUNDED_MS,
  }, () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        for (const schema of [editBody, copyBody, bulkBody]) {
          const parsed = schema.safeParse(value);
          if (parsed.success) expect(schema.safeParse(JSON.parse(JSON.stringify(parsed.data))).success).toBe(true);
        }
      }),
      { numRuns: RUNS },
    );
  });
});

// ---------------------------------------------------------------------------------------------

let org: OrgFixture;
let admin: string;
let catalog: string[];
let editable: string;

beforeAll(async () => {
  org = await makeOrg();
  const rows = await env.DB.prepare("SELECT name FROM permissions ORDER BY name").all<{ name: string }>();
  catalog = rows.results.map((r) => r.name);
  admin = (await makeToken(org, { admin: true, permissions: catalog })).secret;
  editable = (await makeToken(org, { name: "edited by the fuzzer" })).token.id;
});

const STATUS_OF_CODE = new Map(Object.entries(MANAGEMENT_CODES));

async function call(method: string, path: string, body: string | undefined, contentType = "application/json") {
  const headers: Record<string, string> = { authorization: `Bearer ${admin}`, "cf-connecting-ip": "198.51.100.77" };
  if (body !== undefined) headers["content-type"] = contentType;
  const res = await exports.default.fetch(`${ORIGIN}${path}`, { method, headers, body });
  const text = await res.text();
  return { status: res.status, body: text === "" ? null : (JSON.parse(text) as any) };
}

/** Every refusal is a 4xx in the management envelope, its status the one its code names; never a 500. */
function expectWellFormedAnswer(answer: { status: number; body: any }) {
  expect(answer.status, JSON.stringify(answer.body)).not.toBe(500);
  if (answer.status < 400) return;
  expect(answer.status).toBeLessThan(500);
  expect(Object.keys(answer.body)).toEqual(["error"]);
  expect(STATUS_OF_CODE.get(answer.body.error.code), JSON.stringify(answer.body)).toBe(answer.status);
  expect(typeof answer.body.error.message).toBe("string");
}

const junk = fc.jsonValue({ maxDepth: 2 });
const orJunk = <T>(valid: fc.Arbitrary<T>) => fc.oneof({ weight: 4, arbitrary: valid }, { weight: 1, arbitrary: junk });
const futureIso = fc
  .integer({ min: 2, max: 3_000 })
  .map((days) => new Date(Date.now() + days * 86_400_000).toISOString());

/** A JSON body, an almost-right body, or not JSON at all. */
const bodyOf = (nearlyValid: fc.Arbitrary<unknown>) =>
  fc.oneof(
    { weight: 6, arbitrary: nearlyValid.map((b) => JSON.stringify(b)) },
    { weight: 2, arbitrary: junk.map((b) => JSON.stringify(b)) },
    { weight: 1, arbitrary: fc.string({ maxLength: 80 }) },
  );

describe("the management write routes under generated bodies", () => {
  it("POST tokens: never a 500; a created token's view and verification hold exactly what was asked", {
    timeout: BOUNDED_MS,
  }, async () => {
    const projectKeys = Object.values(org.projectKeys);
    const request = fc.record(
      {
        kind: orJunk(fc.constantFrom("org", "org", "group")),
        group: orJunk(fc.constant(org.groupSlug)),
        name: orJunk(fc.string({ maxLength: 110 })),
        description: orJunk(fc.string({ maxLength: 20 })),
        expiresAt: orJunk(
          fc.oneof(fc.constant(null), futureIso, fc.constant("2001-01-01T00:00:00Z"), fc.string({ maxLength: 30 })),
        ),
        projects: orJunk(
          fc.oneof(
            fc.constant("*"),
            fc.subarray(projectKeys, { minLength: 1 }),
            fc.array(fc.string({ maxLength: 12 }), { maxLength: 3 }),
          ),
        ),
        permissions: orJunk(
          fc.oneof(fc.subarray(catalog, { minLength: 1 }), fc.array(fc.string({ maxLength: 20 }), { maxLength: 3 })),
        ),
        admin: orJunk(fc.boolean()),
      },
      // The fields a create needs are there more often than not, so generated bodies reach the store too.
      { requiredKeys: ["kind", "name", "expiresAt", "projects", "permissions"] },
    );
    // Valid bodies with generated content, so the round trip below runs on many of them too.
    const validCreate = fc
      .record(
        {
          kind: fc.constantFrom("org", "group"),
          name: fc.string({ minLength: 1, maxLength: 100 }).filter((n) => n.trim() !== ""),
          description: fc.string({ maxLength: 50 }),
          expiresAt: fc.oneof(fc.constant(null), futureIso),
          projects: fc.oneof(fc.constant("*"), fc.subarray(projectKeys, { minLength: 1 })),
          permissions: fc.subarray(catalog, { minLength: 1 }),
          admin: fc.boolean(),
        },
        { requiredKeys: ["kind", "name", "expiresAt", "projects", "permissions"] },
      )
      .map((b) => ({
        ...b,
        group: b.kind === "group" ? org.groupSlug : undefined,
        projects: b.kind === "group" && b.projects !== "*" ? [org.projectKeys.grouped] : b.projects,
      }));
    let created = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          { weight: 1, arbitrary: validCreate.map((b) => JSON.stringify(b)) },
          { weight: 2, arbitrary: bodyOf(request) },
        ),
        async (body) => {
          const answer = await call("POST", `/api/orgs/${org.orgSlug}/tokens`, body);
          expectWellFormedAnswer(answer);
          if (answer.status !== 201) return;
          created++;
          const asked = JSON.parse(body) as {
            name: string;
            projects: "*" | string[];
            permissions: string[];
            kind: string;
          };
          const { token, secret } = answer.body;
          expect(token.name).toBe(asked.name.trim());
          expect(token.kind).toBe(asked.kind);
          expect(token.projects).toEqual(asked.projects === "*" ? "*" : [...new Set(asked.projects)].sort());
          expect(token.permissions).toEqual([...new Set(asked.permissions)].sort());
          const res = await exports.default.fetch(`${ORIGIN}/v1/verify`, {
            headers: { authorization: `Bearer ${secret}` },
          });
          const verified = await res.json<any>();
          expect(res.status).toBe(200);
          expect(verified.token).toMatchObject({
            id: token.id,
            permissions: token.permissions,
            projects: token.projects,
          });
        },
      ),
      { numRuns: HTTP_RUNS },
    );
    // The generator must reach the success path often, or the round trip above proves little.
    expect(created).toBeGreaterThan(HTTP_RUNS / 10);
  });

  it("PATCH a token, bulk revoke, and the query of the token list: never a 500, every refusal well formed", {
    timeout: BOUNDED_MS,
  }, async () => {
    const edit = fc.record(
      {
        name: orJunk(fc.string({ maxLength: 110 })),
        description: orJunk(fc.string({ maxLength: 20 })),
        projects: orJunk(fc.array(fc.string({ maxLength: 12 }), { maxLength: 3 })),
      },
      { requiredKeys: [] },
    );
    const bulk = fc.record(
      { ids: orJunk(fc.array(fc.oneof(fc.uuid(), fc.string({ maxLength: 120 })), { maxLength: 5 })) },
      { requiredKeys: [] },
    );
    const query = fc.array(
      fc.tuple(fc.constantFrom("status", "kind", "group", "q", "cursor", "limit"), fc.string({ maxLength: 30 })),
      { maxLength: 4 },
    );
    await fc.assert(
      fc.asyncProperty(
        bodyOf(edit),
        bodyOf(bulk),
        query,
        fc.string({ maxLength: 40 }),
        async (editJson, bulkJson, params, id) => {
          expectWellFormedAnswer(await call("PATCH", `/api/orgs/${org.orgSlug}/tokens/${editable}`, editJson));
          expectWellFormedAnswer(await call("POST", `/api/orgs/${org.orgSlug}/tokens/revoke`, bulkJson));
          expectWellFormedAnswer(
            await call("GET", `/api/orgs/${org.orgSlug}/tokens?${new URLSearchParams(params)}`, undefined),
          );
          expectWellFormedAnswer(
            await call("GET", `/api/orgs/${org.orgSlug}/tokens/${encodeURIComponent(id)}`, undefined),
          );
        },
      ),
      { numRuns: HTTP_RUNS },
    );
  });

  it("POST projects, groups and upstreams, and a wrong content type: never a 500, every refusal well formed", {
    timeout: BOUNDED_MS,
  }, async () => {
    const project = fc.record(
      {
        key: orJunk(fc.string({ maxLength: 20 })),
        name: orJunk(fc.string({ maxLength: 20 })),
        group: orJunk(fc.constant(null)),
      },
      { requiredKeys: [] },
    );
    const group = fc.record(
      { slug: orJunk(fc.stringMatching(/^[a-z0-9-]{1,10}$/)), name: orJunk(fc.string({ maxLength: 20 })) },
      { requiredKeys: [] },
    );
    const rule = fc.record({
      method: orJunk(fc.constantFrom("get", "POST", "*", "TRACE")),
      pathPrefix: orJunk(fc.string({ maxLength: 12 })),
      permission: orJunk(fc.constantFrom(...catalog, "nope")),
    });
    const upstream = fc.record(
      {
        name: orJunk(fc.stringMatching(/^[a-z0-9-]{1,10}$/)),
        origin: orJunk(fc.oneof(fc.webUrl(), fc.constant("http://localhost:9999"), fc.string({ maxLength: 20 }))),
        rules: orJunk(fc.array(rule, { maxLength: 3 })),
        projectFromPath: orJunk(fc.boolean()),
      },
      { requiredKeys: [] },
    );
    await fc.assert(
      fc.asyncProperty(
        bodyOf(project),
        bodyOf(group),
        bodyOf(upstream),
        fc.constantFrom("text/plain", "application/x-www-form-urlencoded", "application/json; charset=utf-8"),
        async (p, g, u, type) => {
          expectWellFormedAnswer(await call("POST", `/api/orgs/${org.orgSlug}/projects`, p));
          expectWellFormedAnswer(await call("POST", `/api/orgs/${org.orgSlug}/groups`, g));
          expectWellFormedAnswer(await call("POST", `/api/orgs/${org.orgSlug}/upstreams`, u));
          expectWellFormedAnswer(await call("POST", `/api/orgs/${org.orgSlug}/tokens`, u, type));
        },
      ),
      { numRuns: HTTP_RUNS },
    );
  });
});
