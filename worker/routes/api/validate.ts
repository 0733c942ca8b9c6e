import { zValidator } from "@hono/zod-validator";
import type { ValidationTargets } from "hono";
import type { z } from "zod";
import { AppError } from "../../errors";
import { documentInput, type InputTarget } from "../../openapi/input";

type Issue = { path: PropertyKey[]; message: string };

function fieldsOf(issues: readonly Issue[]): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const issue of issues) {
    const key = issue.path.map(String).join(".") || "body";
    fields[key] ??= issue.message;
  }
  return fields;
}

const JSON_TYPE = /^application\/([\w.-]+\+)?json\s*(;|$)/i;

/**
 * zod validation whose failures are thrown as `validation_failed` (422) with per-field details,
 * so every route answers bad input in the one error envelope. A JSON body route is refused with
 * `unsupported_media_type` (415) before anything is read when a body is not declared JSON: hono's
 * validator would otherwise read such a body as `{}`, and a route whose fields are all optional
 * would quietly do nothing the caller asked. The schema is also what `/api/openapi.json` documents
 * for the route (worker/openapi/input.ts).
 */
export const validate = <Target extends keyof ValidationTargets & InputTarget, T extends z.ZodType>(
  target: Target,
  schema: T,
) => documentInput(validator(target, schema), { target, schema });

function validator<Target extends keyof ValidationTargets, T extends z.ZodType>(target: Target, schema: T) {
  const validates = zValidator(target, schema, (result) => {
    if (result.success) return;
    const fields = fieldsOf(result.error.issues as readonly Issue[]);
    const summary = Object.entries(fields)
      .slice(0, 3)
      .map(([k, v]) => `${k}: ${v}`)
      .join("; ");
    throw new AppError("validation_failed", `The request is not valid (${summary}).`, { fields });
  });
  if (target !== "json") return validates;
  const jsonOnly: typeof validates = async (c, next) => {
    // No body at all has no media type to refuse: a bodiless copy is documented, and elsewhere the
    // empty object fails validation with the fields it lacks.
    const hasBody = c.req.raw.body !== null && c.req.header("content-length") !== "0";
    if (hasBody && !JSON_TYPE.test(c.req.header("content-type") ?? ""))
      throw new AppError("unsupported_media_type", "Send a JSON body with Content-Type: application/json.");
    return validates(c, next);
  };
  return jsonOnly;
}
