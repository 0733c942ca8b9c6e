import type { z } from "zod";

/**
 * Where a route's validator puts its schema for the OpenAPI document (worker/openapi/document.ts):
 * the document reads request shapes from the very middleware that validates them.
 */
export const OPENAPI_INPUT = Symbol("openapi-input");

export type InputTarget = "json" | "query" | "param" | "form";

export interface DocumentedInput {
  target: InputTarget;
  schema: z.ZodType;
  /** A body the route also takes absent (POST /v1/verify). */
  optional?: true;
}

/** Marks a validating middleware with the schema it checks, and returns it unchanged. */
export function documentInput<M extends object>(middleware: M, input: DocumentedInput): M {
  return Object.assign(middleware, { [OPENAPI_INPUT]: input });
}

export function inputOf(handler: unknown): DocumentedInput | undefined {
  return typeof handler === "function" ? (handler as { [OPENAPI_INPUT]?: DocumentedInput })[OPENAPI_INPUT] : undefined;
}
