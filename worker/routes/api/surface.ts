import { bodyLimit } from "hono/body-limit";
import { createMiddleware } from "hono/factory";
import { secureHeaders } from "hono/secure-headers";
import type { AppEnv } from "../../env";
import { AppError } from "../../errors";

/** Management request bodies are small JSON documents; anything larger is refused before parsing. */
export const API_BODY_MAX_BYTES = 64 * 1024;

const headers = secureHeaders({
  // API answers are JSON: they load nothing and may be framed by nobody.
  contentSecurityPolicy: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] },
  referrerPolicy: "no-referrer",
  xFrameOptions: "DENY",
  crossOriginResourcePolicy: "same-origin",
});

/** Secure headers on every `/api` answer, errors included, and no cache may keep one. */
export const apiHeaders = createMiddleware<AppEnv>(async (c, next) => {
  await headers(c, next);
  c.res.headers.set("Cache-Control", "no-store");
});

export const apiBodyLimit = bodyLimit({
  maxSize: API_BODY_MAX_BYTES,
  onError: () => {
    throw new AppError("payload_too_large", `The request body must be at most ${API_BODY_MAX_BYTES / 1024} KB.`);
  },
});
