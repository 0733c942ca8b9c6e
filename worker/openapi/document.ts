import { z } from "zod";
import { SESSION_COOKIE } from "../accounts/limits";
import { PUBLIC_API_ROUTES } from "../auth/public-routes";
import { type DocumentedInput, inputOf } from "./input";
import { OPERATIONS, type OperationDoc, type ResponseDoc } from "./operations";
import { managementError, oauthError, verifyFailure } from "./responses";

/** One entry of Hono's `app.routes`: each middleware and handler of a route, in order. */
export interface RouteEntry {
  method: string;
  path: string;
  handler: unknown;
}

type JsonSchema = Record<string, unknown>;

export const OPENAPI_INFO = {
  title: "Tessera",
  version: "1",
  description:
    'Edge token authority: the verify surface, OAuth endpoints and the management API (docs/API.md). Generated from the zod schemas the routes validate with; docs/DESIGN.md, "The OpenAPI document".',
};

// The surfaces the document covers, and the health check: the gateway's catch-all paths and the console are not an API.
const DOCUMENTED = /^\/((api|v1|oauth|leaks|\.well-known)\/|healthz$)/;
const PUBLIC = new Set(PUBLIC_API_ROUTES.map(([method, path]) => `${method} ${path}`));

/**
 * zod's JSON Schema (2020-12, the dialect of OpenAPI 3.1) for one schema. Schemas named with
 * `.meta({id})` come back in `$defs`; they move to `components.schemas`, where every operation
 * refers to them.
 */
function converter(components: Record<string, JsonSchema>) {
  return (schema: z.ZodType, io: "input" | "output"): JsonSchema => {
    const converted = JSON.stringify(z.toJSONSchema(schema, { io, unrepresentable: "any" }));
    const {
      $schema: _,
      $defs,
      ...json
    } = JSON.parse(converted.replaceAll('"#/$defs/', '"#/components/schemas/')) as JsonSchema & {
      $defs?: Record<string, JsonSchema>;
    };
    Object.assign(components, $defs);
    return json;
  };
}
type Convert = ReturnType<typeof converter>;

/** `/api/orgs/:org/tokens/:id{[0-9a-f-]+}` → `/api/orgs/{org}/tokens/{id}`, and the parameter names. */
function openApiPath(path: string): { path: string; params: string[] } {
  const params: string[] = [];
  const converted = path.replace(/:(\w+)(\{[^}]*\})?/g, (_, name: string) => {
    params.push(name);
    return `{${name}}`;
  });
  return { path: converted.length > 1 ? converted.replace(/\/$/, "") : converted, params };
}

/** One answer as the document writes it, with the headers the route sends on every answer. */
function response(convert: Convert, { description, schema }: ResponseDoc, headers: OperationDoc["headers"]) {
  return {
    description,
    ...(headers
      ? {
          headers: Object.fromEntries(
            Object.entries(headers).map(([name, h]) => [
              name,
              { description: h.description, schema: convert(h.schema, "output") },
            ]),
          ),
        }
      : {}),
    ...(schema ? { content: { "application/json": { schema: convert(schema, "output") } } } : {}),
  };
}

function errorResponses(convert: Convert, path: string) {
  const schema = path.startsWith("/api/")
    ? managementError
    : path.startsWith("/oauth/") || path.startsWith("/.well-known/")
      ? oauthError
      : verifyFailure;
  const content = { "application/json": { schema: convert(schema, "output") } };
  return {
    "4XX": { description: "Refused: the surface's error envelope", content },
    "5XX": { description: "Unavailable or failed: the surface's error envelope", content },
  };
}

/** Who may call: the document's default (a token in a header, or the console's cookie) unless said here. */
function securityOf(method: string, path: string): { security?: Record<string, []>[] } {
  if (path === "/v1/verify") {
    // The token under test is the credential, in any carrier (docs/API.md); none is an answer too (code 1).
    return { security: ["bearer", "basic", "apiKey", "sessionQuery", "accessTokenQuery"].map((s) => ({ [s]: [] })) };
  }
  if (path.startsWith("/oauth/")) return { security: [{ bearer: [] }, { basic: [] }] };
  // Public routes, and the leak reports, which the reporter's signature authenticates.
  if (!path.startsWith("/api/") || PUBLIC.has(`${method} ${path}`)) return { security: [] };
  return {};
}

function parameters(convert: Convert, inputs: DocumentedInput[], pathParams: string[]) {
  const list: Record<string, unknown>[] = [];
  const pathSchemas = inputs.find((i) => i.target === "param");
  const pathProperties = (pathSchemas ? convert(pathSchemas.schema, "input").properties : undefined) as
    | Record<string, JsonSchema>
    | undefined;
  for (const name of pathParams) {
    list.push({ name, in: "path", required: true, schema: pathProperties?.[name] ?? { type: "string" } });
  }
  for (const input of inputs.filter((i) => i.target === "query")) {
    const json = convert(input.schema, "input");
    const required = new Set((json.required as string[] | undefined) ?? []);
    for (const [name, schema] of Object.entries((json.properties ?? {}) as Record<string, JsonSchema>)) {
      list.push({ name, in: "query", required: required.has(name), schema });
    }
  }
  return list;
}

function requestBody(convert: Convert, inputs: DocumentedInput[]) {
  const body = inputs.find((i) => i.target === "json" || i.target === "form");
  if (!body) return undefined;
  const type = body.target === "json" ? "application/json" : "application/x-www-form-urlencoded";
  return { required: !body.optional, content: { [type]: { schema: convert(body.schema, "input") } } };
}

/** The OpenAPI 3.1 document of the routes Hono holds, with the inputs their validators check. */
export function buildOpenApi(routes: readonly RouteEntry[]): Record<string, unknown> {
  const byOperation = new Map<string, { method: string; path: string; inputs: DocumentedInput[] }>();
  for (const route of routes) {
    if (route.method === "ALL" || route.path.includes("*") || !DOCUMENTED.test(route.path)) continue;
    const key = `${route.method} ${route.path}`;
    const entry = byOperation.get(key) ?? { method: route.method, path: route.path, inputs: [] };
    const input = inputOf(route.handler);
    if (input) entry.inputs.push(input);
    byOperation.set(key, entry);
  }

  const components: Record<string, JsonSchema> = {};
  const convert = converter(components);
  const paths: Record<string, Record<string, unknown>> = {};
  const ordered = [...byOperation.values()].sort(
    (a, b) => a.path.localeCompare(b.path) || a.method.localeCompare(b.method),
  );
  for (const { method, path: honoPath, inputs } of ordered) {
    const { path, params } = openApiPath(honoPath);
    const doc = OPERATIONS[`${method} ${honoPath}`];
    const allInputs = [...inputs, ...(doc?.inputs ?? [])];
    const ok = doc?.ok ?? { status: method === "POST" ? 201 : 200 };
    const success = response(convert, { description: ok.description ?? "Success", schema: ok.schema }, doc?.headers);
    const failures = doc?.failures
      ? Object.fromEntries(
          Object.entries(doc.failures).map(([status, answer]) => [status, response(convert, answer, doc.headers)]),
        )
      : errorResponses(convert, path);
    const body = requestBody(convert, allInputs);
    paths[path] ??= {};
    paths[path][method.toLowerCase()] = {
      operationId: `${method.toLowerCase()}${path.replace(/[{}]/g, "").replace(/[/.-](\w)/g, (_, c: string) => c.toUpperCase())}`,
      summary: doc?.summary ?? `${method} ${path}`,
      tags: [path.startsWith("/api/") ? `api/${path.split("/")[2]}` : path.split("/")[1]],
      ...securityOf(method, path),
      parameters: parameters(convert, allInputs, params),
      ...(body ? { requestBody: body } : {}),
      responses: { [ok.status]: success, ...failures },
    };
  }

  return {
    openapi: "3.1.0",
    info: OPENAPI_INFO,
    servers: [{ url: "/" }],
    // docs/API.md "Rules every route follows": a session cookie from the console, or a token in a header.
    security: [{ bearer: [] }, { basic: [] }, { apiKey: [] }, { session: [] }],
    paths,
    components: {
      schemas: Object.fromEntries(Object.entries(components).sort(([a], [b]) => a.localeCompare(b))),
      securitySchemes: {
        bearer: { type: "http", scheme: "bearer", description: "A Tessera token (tso_, tsg_, tsp_)" },
        basic: { type: "http", scheme: "basic", description: "The token as user name, empty password" },
        apiKey: { type: "apiKey", in: "header", name: "X-Api-Key" },
        sessionQuery: { type: "apiKey", in: "query", name: "session", description: "/v1/verify only" },
        accessTokenQuery: { type: "apiKey", in: "query", name: "access_token", description: "/v1/verify only" },
        session: { type: "apiKey", in: "cookie", name: SESSION_COOKIE, description: "The console's session" },
      },
    },
  };
}
