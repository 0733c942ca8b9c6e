// TOTP secrets must be kept to check codes (unlike passwords, they cannot be hashed): sealed with
// AES-256-GCM under a key derived (HKDF-SHA-256) from TOKEN_PEPPER, the one secret binding there is.
// A copy of the database alone opens no second factor. After TOKEN_PEPPER is rotated no seal opens:
// people sign in with a recovery code and enroll again (docs/DESIGN.md §6.3).

const encoder = new TextEncoder();
const INFO = encoder.encode("tessera totp secret v1");
const VERSION = "v1";

const keys = new Map<string, Promise<CryptoKey>>();

function sealKey(pepper: string): Promise<CryptoKey> {
  let key = keys.get(pepper);
  if (!key) {
    key = crypto.subtle
      .importKey("raw", encoder.encode(pepper), "HKDF", false, ["deriveKey"])
      .then((base) =>
        crypto.subtle.deriveKey(
          { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0), info: INFO },
          base,
          { name: "AES-GCM", length: 256 },
          false,
          ["encrypt", "decrypt"],
        ),
      );
    keys.set(pepper, key);
  }
  return key;
}

const b64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));
const unb64 = (text: string) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));

/** `v1.<iv>.<ciphertext>`, base64; the user's id is the associated data, so a sealed secret cannot move to another row. */
export async function sealSecret(pepper: string, userId: string, secret: Uint8Array): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const data = encoder.encode(userId);
  const sealed = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: data },
    await sealKey(pepper),
    secret,
  );
  return `${VERSION}.${b64(iv)}.${b64(new Uint8Array(sealed))}`;
}

/** The secret, or null when the seal is not ours (another pepper, another user's row, a damaged value). */
export async function openSecret(pepper: string, userId: string, sealed: string): Promise<Uint8Array | null> {
  const [version, iv, body] = sealed.split(".");
  if (version !== VERSION || !iv || !body) return null;
  try {
    const data = encoder.encode(userId);
    const plain = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: unb64(iv), additionalData: data },
      await sealKey(pepper),
      unb64(body),
    );
    return new Uint8Array(plain);
  } catch {
    return null;
  }
}
