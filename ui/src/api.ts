import type { ClientResponse } from "hono/client";
import type { SuccessStatusCode } from "hono/utils/http-status";

// The management API as the console uses it: one error type, the password prompt on
// `sudo_required` (then the same request again), and the login page on `unauthenticated`.

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** Field name -> what is wrong with it, shown next to the field. */
    readonly fields: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** Set by the app shell: ask for the password (true = confirmed), and where to go when signed out. */
export const hooks = {
  sudo: async (): Promise<boolean> => false,
  signedOut: () => {},
  /** An organization requires its admins to sign in with two factors: off to the account page. */
  twoFactorRequired: () => {},
};

interface Envelope {
  error?: { code?: string; message?: string; details?: { fields?: Record<string, string> } };
}

async function parse<T>(res: Response): Promise<T> {
  if (res.ok) return (res.status === 204 ? null : await res.json()) as T;
  const body = (await res.json().catch(() => ({}))) as Envelope;
  const e = body.error ?? {};
  throw new ApiError(
    res.status,
    e.code ?? "internal",
    e.message ?? `Tessera answered ${res.status}.`,
    e.details?.fields,
  );
}

/** The body of a typed client response's success statuses (what `hc<AppType>` inferred from the route). */
export type Ok<R> =
  R extends ClientResponse<infer T, infer S, infer _F> ? (S extends SuccessStatusCode ? T : never) : never;

/**
 * Sends (and after a password confirmation, re-sends) a request; resolves to the success body.
 * `prompts: false` is for the login and password forms, whose 401 means a wrong password.
 */
export async function call<R extends Response | ClientResponse<unknown, number, any>, T = Ok<R>>(
  send: () => Promise<R>,
  prompts = true,
): Promise<T> {
  for (;;) {
    let res: R;
    try {
      res = await send();
    } catch {
      throw new ApiError(0, "network", "Tessera cannot be reached. Check your connection and try again.");
    }
    try {
      return await parse<T>(res as Response);
    } catch (e) {
      if (prompts && e instanceof ApiError && e.code === "sudo_required" && (await hooks.sudo())) continue;
      if (prompts && e instanceof ApiError && e.status === 401) hooks.signedOut();
      if (e instanceof ApiError && e.code === "two_factor_required") hooks.twoFactorRequired();
      throw e;
    }
  }
}

/** Thrown away when a person cancels a password prompt: the action simply does not happen. */
export const isCancel = (e: unknown) => e instanceof ApiError && e.code === "sudo_required";
