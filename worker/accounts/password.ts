import { PBKDF2_ITERATIONS, PBKDF2_KEY_BITS, PBKDF2_SALT_BYTES } from "./limits";

export interface PasswordHash {
  hash: string;
  salt: string;
  iterations: number;
}

const encoder = new TextEncoder();

function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

function fromBase64(text: string): Uint8Array | null {
  try {
    return Uint8Array.from(atob(text), (ch) => ch.charCodeAt(0));
  } catch {
    return null;
  }
}

async function derive(password: string, salt: Uint8Array, iterations: number): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey("raw", encoder.encode(password), "PBKDF2", false, ["deriveBits"]);
  const bits = await crypto.subtle.deriveBits(
    { name: "PBKDF2", hash: "SHA-256", salt, iterations },
    key,
    PBKDF2_KEY_BITS,
  );
  return new Uint8Array(bits);
}

export async function hashPassword(password: string): Promise<PasswordHash> {
  const salt = crypto.getRandomValues(new Uint8Array(PBKDF2_SALT_BYTES));
  const hash = await derive(password, salt, PBKDF2_ITERATIONS);
  return { hash: toBase64(hash), salt: toBase64(salt), iterations: PBKDF2_ITERATIONS };
}

// Checked against when the email is unknown, so a miss costs the same time as a wrong password.
const DECOY: PasswordHash = {
  hash: toBase64(new Uint8Array(PBKDF2_KEY_BITS / 8)),
  salt: "dGVzc2VyYS1kZWNveQ==",
  iterations: PBKDF2_ITERATIONS,
};

/** True when the password matches. Unknown users (null) and unreadable records always answer false, in the same time. */
export async function verifyPassword(password: string, stored: PasswordHash | null): Promise<boolean> {
  const record = stored ?? DECOY;
  const salt = fromBase64(record.salt);
  const expected = fromBase64(record.hash);
  const usable =
    salt !== null &&
    expected !== null &&
    expected.length === PBKDF2_KEY_BITS / 8 &&
    record.iterations >= 1 &&
    record.iterations <= PBKDF2_ITERATIONS;
  const derived = await derive(
    password,
    usable ? salt : fromBase64(DECOY.salt)!,
    usable ? record.iterations : PBKDF2_ITERATIONS,
  );
  const same = crypto.subtle.timingSafeEqual(derived, usable ? expected : new Uint8Array(derived.length).fill(1));
  return stored !== null && usable && same;
}
