import { DAY_MS, HOUR_MS, MINUTE_MS } from "../limits";

// Accounts, sessions and the login throttle: every lifetime and limit of the console's sign-in.

/**
 * `__Host-`: the browser keeps it only if it is Secure, has Path=/ and no Domain, so no sibling
 * subdomain (a gateway hostname included) can set or shadow the console's session.
 */
export const SESSION_COOKIE = "__Host-tessera_session";
/** Random bytes in a session cookie value (256 bits). */
export const SESSION_COOKIE_BYTES = 32;
/** A session unused for this long is dead (idle expiry). */
export const SESSION_IDLE_MS = 12 * HOUR_MS;
/** No session outlives this, however active (absolute cap). */
export const SESSION_MAX_MS = 7 * DAY_MS;
/** `last_seen_at` is written at most this often, so each request does not cost a D1 write. */
export const SESSION_TOUCH_INTERVAL_MS = MINUTE_MS;
/** How long a password confirmation (sudo) lasts (docs/DESIGN.md §5). */
export const SUDO_WINDOW_MS = 5 * MINUTE_MS;

/**
 * Password attempts are counted in fixed windows of this length, before the password is checked
 * (so parallel guesses cannot all slip past), on several counters at once; an attempt is refused
 * while any of its counters is at its limit. A client's network is its IPv4 address or its IPv6 /64
 * (worker/http/network.ts).
 */
export const LOGIN_WINDOW_MS = 15 * MINUTE_MS;
/** Per email from one network: what someone guessing from elsewhere cannot take from the real user. */
export const LOGIN_MAX_FAILURES_PER_EMAIL_NETWORK = 5;
/**
 * Per email across all networks: the cap on a guesser with many networks. The one way someone else
 * can lock an account out, for the rest of the window, from every network at once.
 */
export const LOGIN_MAX_FAILURES_PER_EMAIL = 50;
/** Per network across emails: higher than per email, since many people share one address (an office, a VPN). */
export const LOGIN_MAX_FAILURES_PER_NETWORK = 30;
/** Wrong passwords per session when confirming (sudo, password change): a typo there never locks sign-in. */
export const CONFIRM_MAX_FAILURES_PER_SESSION = 5;

/** The least length of the SETUP_TOKEN secret: below it, first-run setup stays locked (`openssl rand -hex 16` gives 32). */
export const SETUP_TOKEN_MIN = 16;
/** Only bounds the request: a longer token is no use to anyone. */
export const SETUP_TOKEN_MAX = 200;

export const PASSWORD_MIN = 12;
/** PBKDF2 pre-hashes long passwords, so the cap only bounds request size. */
export const PASSWORD_MAX = 200;
/**
 * PBKDF2-SHA256 iterations. workerd refuses more than 100000 (OWASP now asks for 600000, which
 * Workers cannot do), so this is the most the platform allows; the count is stored per user so it
 * can be raised and rehashed on login if the cap ever lifts.
 */
export const PBKDF2_ITERATIONS = 100_000;
export const PBKDF2_SALT_BYTES = 16;
export const PBKDF2_KEY_BITS = 256;

/** Random bytes in an invitation or password-reset link's secret (256 bits: no throttle needed on guesses). */
export const LINK_SECRET_BYTES = 32;
/** An invitation link works this long after it is issued. */
export const INVITATION_TTL_MS = 7 * DAY_MS;
/** Bounds what one organization (or a leaked manage:members token) can leave lying around. */
export const MAX_PENDING_INVITATIONS_PER_ORG = 500;
/** A password-reset link is short-lived: it stands in for a password. */
export const PASSWORD_RESET_TTL_MS = DAY_MS;

/** TOTP (RFC 6238): one code per 30-second step, six digits, HMAC-SHA-1 (what every authenticator app does by default). */
export const TOTP_STEP_S = 30;
export const TOTP_DIGITS = 6;
/** Steps either side of now a code is still accepted at: a clock off by up to 30 s, or a code typed as it turns. */
export const TOTP_DRIFT_STEPS = 1;
/** Bytes in a TOTP secret: 160 bits, RFC 4226's recommended length (32 base32 characters). */
export const TOTP_SECRET_BYTES = 20;
/** How long an enrollment's secret waits for its first code before setup must start over. */
export const TOTP_ENROLL_TTL_MS = 30 * MINUTE_MS;
/** Recovery codes issued at a time, each good once. */
export const RECOVERY_CODE_COUNT = 10;
/** Random bytes per recovery code: 50 bits, read as ten base32 characters (xxxxx-xxxxx). */
export const RECOVERY_CODE_CHARS = 10;
/** Hex characters of a session's key (SHA-256 of its cookie) the API names it by: 64 bits, unique among one person's sessions. */
export const SESSION_PUBLIC_ID_CHARS = 16;
