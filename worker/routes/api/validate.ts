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

/**
 * zod validation whose failures are thrown as `validation_failed` (422) with per-field details,
 * so every route answers bad input in the one error envelope. The schema is also what
 * `/api/openapi.json` documents for the route (worker/openapi/input.ts).
 */
export const validate = <Target extends keyof ValidationTargets & InputTarget, T extends z.ZodType>(
  target: Target,
  schema: T,
) => documentInput(validator(target, schema), { target, schema });

const validator = <Target extends keyof ValidationTargets, T extends z.ZodType>(target: Target, schema: T) =>
  zValidator(target, schema, (result, c) => {
    if (result.success) return;
    const fields = fieldsOf(result.error.issues as readonly Issue[]);
    const contentType = c.req.header("content-type") ?? "";
    if (target === "json" && !/^application\/([\w.-]+\+)?json\b/i.test(contentType)) {
      throw new AppError("validation_failed", "Send a JSON body with Content-Type: application/json.", { fields });
    }
    const summary = Object.entries(fields)
      .slice(0, 3)
      .map(([k, v]) => `${k}: ${v}`)
      .join("; ");
    throw new AppError("validation_failed", `The request is not valid (${summary}).`, { fields });
  });
