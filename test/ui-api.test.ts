// The console's request wrapper (ui/src/api.ts): the password prompt on `sudo_required` and the
// same request again, sign-in on 401, errors in words with their fields. DOM-free, so it runs here.
import { afterEach, describe, expect, it, vi } from "vitest";
import { ApiError, call, hooks, isCancel } from "../ui/src/api";

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
const sudoRequired = () => json(403, { error: { code: "sudo_required", message: "Confirm your password first." } });

afterEach(() => {
  hooks.sudo = async () => false;
  hooks.signedOut = () => {};
});

describe("call", () => {
  it("resolves to the success body; a 204 to null", async () => {
    expect(await call(async () => json(201, { id: "t1" }))).toEqual({ id: "t1" });
    expect(await call(async () => new Response(null, { status: 204 }))).toBeNull();
  });

  it("asks for the password on sudo_required, then sends the same request again", async () => {
    const send = vi
      .fn()
      .mockResolvedValueOnce(sudoRequired())
      .mockResolvedValueOnce(json(200, { ok: true }));
    const sudo = vi.fn(async () => true);
    hooks.sudo = sudo;
    expect(await call(send)).toEqual({ ok: true });
    expect(sudo).toHaveBeenCalledTimes(1);
    expect(send).toHaveBeenCalledTimes(2);
  });

  it("does nothing more when the prompt is cancelled, and says so as a cancel", async () => {
    const send = vi.fn(async () => sudoRequired());
    hooks.sudo = async () => false;
    const err = await call(send).catch((e: unknown) => e);
    expect(isCancel(err)).toBe(true);
    expect(send).toHaveBeenCalledTimes(1);
  });

  it("sends people to sign in on 401, except from the password forms themselves", async () => {
    const signedOut = vi.fn();
    hooks.signedOut = signedOut;
    const unauthenticated = async () =>
      json(401, { error: { code: "unauthenticated", message: "The email or password is not correct." } });
    await expect(call(unauthenticated, false)).rejects.toThrow("The email or password is not correct.");
    expect(signedOut).not.toHaveBeenCalled();
    await expect(call(unauthenticated)).rejects.toBeInstanceOf(ApiError);
    expect(signedOut).toHaveBeenCalledTimes(1);
  });

  it("keeps the API's words and the fields they are about", async () => {
    const invalid = async () =>
      json(422, {
        error: {
          code: "validation_failed",
          message: "The request is not valid.",
          details: { fields: { "webhook.url": "must be an https:// URL" } },
        },
      });
    const err = (await call(invalid).catch((e: unknown) => e)) as ApiError;
    expect(err.code).toBe("validation_failed");
    expect(err.message).toBe("The request is not valid.");
    expect(err.fields).toEqual({ "webhook.url": "must be an https:// URL" });
  });

  it("explains a network failure or an answer that is not the envelope", async () => {
    const offline = (await call(async () => Promise.reject(new TypeError("Failed to fetch"))).catch(
      (e: unknown) => e,
    )) as ApiError;
    expect(offline.code).toBe("network");
    expect(offline.message).toMatch(/cannot be reached/);
    const html = (await call(async () => new Response("<h1>Bad gateway</h1>", { status: 502 })).catch(
      (e: unknown) => e,
    )) as ApiError;
    expect(html.status).toBe(502);
    expect(html.message).toBe("Tessera answered 502.");
  });
});

describe("an organization requiring two-factor sign-in", () => {
  it("sends an admin without it to the account page (two_factor_required), and still fails the call in words", async () => {
    const required = vi.fn();
    hooks.twoFactorRequired = required;
    const refused = async () =>
      json(403, { error: { code: "two_factor_required", message: "This organization requires two factors." } });
    await expect(call(refused)).rejects.toThrow("This organization requires two factors.");
    expect(required).toHaveBeenCalledTimes(1);
    // A sign-in that asks for the code is no such refusal, and no session ending either.
    const signedOut = vi.fn();
    hooks.signedOut = signedOut;
    const codeNeeded = async () =>
      json(401, { error: { code: "two_factor_code_required", message: "Enter the code." } });
    await expect(call(codeNeeded, false)).rejects.toThrow("Enter the code.");
    expect(required).toHaveBeenCalledTimes(1);
    expect(signedOut).not.toHaveBeenCalled();
    hooks.twoFactorRequired = () => {};
  });
});
