import { z } from "zod";

/** Used only when ENVIRONMENT is development/test and SECRET_KEY is unset; never in production. */
export const DEVELOPMENT_SECRET = "edge-auth-development-secret-do-not-use-in-production";

const bool = z
  .enum(["true", "false", "1", "0", "yes", "no"])
  .transform((v) => v === "true" || v === "1" || v === "yes");

const int = (def: number, min: number, max: number) => z.coerce.number().int().min(min).max(max).default(def);

const optionalString = z
  .string()
  .trim()
  .transform((v) => (v === "" ? undefined : v))
  .optional();

const csv = z
  .string()
  .optional()
  .transform((v) =>
    (v ?? "")
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s !== ""),
  );

// http(s) only: "localhost:8787" parses as a URL with the scheme "localhost:" and would produce links no
// mail client can open.
const url = z
  .string()
  .trim()
  .refine((v) => /^https?:\/\/[^/]/i.test(v) && URL.canParse(v), {
    message: "must be an http:// or https:// URL, e.g. http://localhost:8787",
  })
  .transform((v) => v.replace(/\/+$/, ""));

/**
 * A store URL of the given schemes. The message never echoes the value: it may carry a password. A bare
 * `host:port` (a common first try) would otherwise parse as a URL with the scheme "127.0.0.1:".
 */
const storeUrl = (schemes: string[], example: string) =>
  optionalString.refine(
    (v) => {
      if (v === undefined) return true;
      try {
        const u = new URL(v);
        return schemes.includes(u.protocol.slice(0, -1)) && u.hostname !== "";
      } catch {
        return false;
      }
    },
    { message: `must be a ${schemes.map((s) => `${s}://`).join(" or ")} URL, e.g. ${example}` },
  );

const ConfigSchema = z
  .object({
    ENVIRONMENT: z.enum(["development", "test", "production"]).default("production"),
    SECRET_KEY: optionalString,
    ALGORITHM: z.enum(["HS256", "ES256", "EdDSA"]).default("HS256"),
    JWT_PRIVATE_KEY: optionalString,
    JWT_ISSUER: optionalString,
    JWT_AUDIENCE: optionalString,
    ACCESS_TOKEN_EXPIRE_MINUTES: int(30, 1, 24 * 60),
    REFRESH_TOKEN_EXPIRE_DAYS: int(30, 1, 365),
    /** How long a proof of a credential counts as recent for sensitive routes (API.md "sudo mode"). */
    REAUTH_WINDOW_SECONDS: int(600, 30, 86_400),
    // D1 only: read-only routes may answer from a nearby read replica (README, "Read replicas").
    D1_READ_REPLICAS: bool.default(false),
    DATABASE_URL: storeUrl(["postgres", "postgresql"], "postgres://user:password@127.0.0.1:5432/edge_auth"),
    REDIS_URL: storeUrl(["redis", "rediss"], "redis://127.0.0.1:6379/0"),
    // How long opening a Postgres or Redis connection may take before the request answers 503
    // storage_unavailable. 1.5 s keeps a silent store's 503 within 2 s; a store far from the Worker, or a
    // loaded CI machine opening many connections at once, may need more.
    STORAGE_CONNECT_TIMEOUT_MS: int(1_500, 100, 30_000),
    GOOGLE_CLIENT_ID: optionalString,
    GOOGLE_CLIENT_SECRET: optionalString,
    FACEBOOK_CLIENT_ID: optionalString,
    FACEBOOK_CLIENT_SECRET: optionalString,
    APP_URL: url.default("http://localhost:8787"),
    APP_NAME: z.string().trim().min(1).max(64).default("edge-auth"),
    ADMIN_EMAILS: csv.transform((list) => list.map((e) => e.toLowerCase())),
    EMAIL_FROM: z.string().trim().min(3).default("edge-auth <no-reply@localhost>"),
    EMAIL_TRANSPORT: z.enum(["console", "resend", "cloudflare"]).default("console"),
    RESEND_API_KEY: optionalString,
    VERIFY_URL: url.optional(),
    RESET_URL: url.optional(),
    // Email sign-in (link or code): on by default; SIGNUP lets an unknown address create an account;
    // EMAIL_LOGIN_URL is a frontend page that receives ?token= instead of ${APP_URL}/auth/email-login.
    EMAIL_LOGIN: bool.default(true),
    EMAIL_LOGIN_SIGNUP: bool.default(true),
    EMAIL_LOGIN_URL: url.optional(),
    PASSWORD_MIN_LENGTH: int(8, 8, 128),
    ENCRYPTION_KEY: optionalString,
    CORS_ORIGINS: csv,
    OAUTH_REDIRECT_ALLOWLIST: csv,
    AUDIT_RETENTION_DAYS: int(365, 1, 3650),
    RATE_LIMIT_LOGIN: int(10, 1, 100_000),
    RATE_LIMIT_REGISTER: int(5, 1, 100_000),
    RATE_LIMIT_VERIFY: int(10, 1, 100_000),
    RATE_LIMIT_REFRESH: int(60, 1, 100_000),
    RATE_LIMIT_DEFAULT: int(120, 1, 100_000),
    RATE_LIMIT_ENABLED: bool.default(true),
    // While imported bcrypt hashes remain: every login also pays the other algorithm's dummy verify, so
    // an unknown email, a migrated account and a not-yet-migrated one cost the same (README, migration).
    LEGACY_BCRYPT: bool.default(false),
    // The FastAPI service's SECRET_KEY: its tokens are honoured (README, migration) until the date.
    LEGACY_JWT_SECRET: optionalString,
    LEGACY_JWT_ALGORITHM: z.enum(["HS256", "HS384", "HS512"]).default("HS256"),
    LEGACY_TOKENS_UNTIL: z
      .string()
      .trim()
      .refine((v) => v === "" || !Number.isNaN(Date.parse(v)), { message: "must be an ISO 8601 date" })
      .transform((v) => (v === "" ? undefined : new Date(v)))
      .optional(),
    WEBAUTHN_RP_ID: optionalString,
    WEBAUTHN_ORIGINS: csv,
    // Webhooks (src/events): every audit entry is POSTed here, signed per Standard Webhooks.
    WEBHOOK_URL: optionalString,
    WEBHOOK_SECRET: optionalString,
  })
  .superRefine((cfg, ctx) => {
    const production = cfg.ENVIRONMENT === "production";
    if (!cfg.SECRET_KEY && production) {
      ctx.addIssue({ code: "custom", path: ["SECRET_KEY"], message: "is required in production" });
    }
    if (cfg.SECRET_KEY && production && new TextEncoder().encode(cfg.SECRET_KEY).length < 32) {
      ctx.addIssue({
        code: "custom",
        path: ["SECRET_KEY"],
        message: "must be at least 32 bytes in production",
      });
    }
    if (production && cfg.EMAIL_TRANSPORT === "console") {
      ctx.addIssue({
        code: "custom",
        path: ["EMAIL_TRANSPORT"],
        message:
          "console would write verification and reset links to the logs; use resend or cloudflare in production",
      });
    }
    if (production && !cfg.APP_URL.startsWith("https://")) {
      ctx.addIssue({
        code: "custom",
        path: ["APP_URL"],
        message: "must be the public https:// URL in production",
      });
    }
    if (cfg.ALGORITHM !== "HS256" && !cfg.JWT_PRIVATE_KEY) {
      ctx.addIssue({
        code: "custom",
        path: ["JWT_PRIVATE_KEY"],
        message: `is required when ALGORITHM is ${cfg.ALGORITHM}`,
      });
    }
    if (cfg.LEGACY_JWT_SECRET && !cfg.LEGACY_TOKENS_UNTIL) {
      ctx.addIssue({
        code: "custom",
        path: ["LEGACY_TOKENS_UNTIL"],
        message: "is required with LEGACY_JWT_SECRET (old tokens are honoured until then, never forever)",
      });
    }
    if (cfg.EMAIL_TRANSPORT === "resend" && !cfg.RESEND_API_KEY) {
      ctx.addIssue({
        code: "custom",
        path: ["RESEND_API_KEY"],
        message: "is required when EMAIL_TRANSPORT is resend",
      });
    }
    if ((cfg.GOOGLE_CLIENT_ID === undefined) !== (cfg.GOOGLE_CLIENT_SECRET === undefined)) {
      ctx.addIssue({
        code: "custom",
        path: ["GOOGLE_CLIENT_SECRET"],
        message: "set both GOOGLE_CLIENT_ID and GOOGLE_CLIENT_SECRET",
      });
    }
    for (const problem of webhookProblems(cfg)) ctx.addIssue({ code: "custom", ...problem });
    if ((cfg.FACEBOOK_CLIENT_ID === undefined) !== (cfg.FACEBOOK_CLIENT_SECRET === undefined)) {
      ctx.addIssue({
        code: "custom",
        path: ["FACEBOOK_CLIENT_SECRET"],
        message: "set both FACEBOOK_CLIENT_ID and FACEBOOK_CLIENT_SECRET",
      });
    }
  })
  .superRefine((cfg, ctx) => {
    // A bad APP_URL is reported on its own; the passkey defaults derive from it.
    if (!/^https?:\/\//i.test(cfg.APP_URL) || !URL.canParse(cfg.APP_URL)) return;
    const rp = relyingParty(cfg);
    if (!/^[a-z0-9.-]+$/.test(rp.id) || rp.id.startsWith(".") || rp.id.endsWith(".")) {
      ctx.addIssue({
        code: "custom",
        path: ["WEBAUTHN_RP_ID"],
        message: `"${rp.id}" is not a host name (no scheme, port or path: e.g. example.com)`,
      });
      return;
    }
    for (const origin of rp.origins) {
      const problem = originProblem(origin, rp.id, cfg.ENVIRONMENT === "production");
      if (problem) ctx.addIssue({ code: "custom", path: ["WEBAUTHN_ORIGINS"], message: problem });
    }
  })
  .transform((cfg) => ({
    ...cfg,
    // WebAuthn relying party (API.md "Passkeys"): passkeys are bound to this RP id for good.
    WEBAUTHN_RP_ID: relyingParty(cfg).id,
    WEBAUTHN_ORIGINS: relyingParty(cfg).origins,
    SECRET_KEY: cfg.SECRET_KEY ?? DEVELOPMENT_SECRET,
    usingDevelopmentSecret: cfg.SECRET_KEY === undefined,
    JWT_ISSUER: cfg.JWT_ISSUER ?? cfg.APP_URL,
    JWT_AUDIENCE: cfg.JWT_AUDIENCE ?? cfg.APP_URL,
  }));

export type Config = z.output<typeof ConfigSchema>;

/** Standard Webhooks secrets are 24 to 64 random bytes, written `whsec_<base64>`. */
const WEBHOOK_SECRET_FORM = /^whsec_[A-Za-z0-9+/]+={0,2}$/;

/**
 * What is wrong with the webhook settings. The messages never echo a value: the URL may carry a token
 * and the secret is one. Plain http is refused outside development: the events carry user ids and IPs.
 */
function webhookProblems(cfg: {
  ENVIRONMENT: string;
  WEBHOOK_URL?: string;
  WEBHOOK_SECRET?: string;
}): { path: string[]; message: string }[] {
  const problems: { path: string[]; message: string }[] = [];
  if (cfg.WEBHOOK_URL !== undefined) {
    let url: URL | null = null;
    try {
      url = new URL(cfg.WEBHOOK_URL);
    } catch {
      // reported below
    }
    const development = cfg.ENVIRONMENT === "development";
    if (!url || !["https:", "http:"].includes(url.protocol) || url.hostname === "") {
      problems.push({
        path: ["WEBHOOK_URL"],
        message: "must be an https:// URL, e.g. https://hooks.example.com/auth",
      });
    } else if (url.protocol !== "https:" && !development) {
      problems.push({
        path: ["WEBHOOK_URL"],
        message: "must be https:// outside development (events carry user ids and IP addresses)",
      });
    } else if (url.username !== "" || url.password !== "") {
      problems.push({
        path: ["WEBHOOK_URL"],
        message: "must not carry credentials; WEBHOOK_SECRET signs the requests",
      });
    }
    if (cfg.WEBHOOK_SECRET === undefined) {
      problems.push({
        path: ["WEBHOOK_SECRET"],
        message: "is required with WEBHOOK_URL (whsec_ followed by 24 to 64 random bytes in base64)",
      });
    }
  } else if (cfg.WEBHOOK_SECRET !== undefined) {
    problems.push({ path: ["WEBHOOK_URL"], message: "is required with WEBHOOK_SECRET" });
  }
  if (cfg.WEBHOOK_SECRET !== undefined) {
    const bytes = WEBHOOK_SECRET_FORM.test(cfg.WEBHOOK_SECRET)
      ? base64Length(cfg.WEBHOOK_SECRET.slice(6))
      : 0;
    if (bytes < 24 || bytes > 64) {
      problems.push({
        path: ["WEBHOOK_SECRET"],
        message: "must be whsec_ followed by 24 to 64 random bytes in base64 (openssl rand -base64 32)",
      });
    }
  }
  return problems;
}

/** Decoded length of a base64 string, or 0 when it is not valid base64. */
function base64Length(value: string): number {
  if (value.length % 4 !== 0) return 0;
  try {
    return atob(value).length;
  } catch {
    return 0;
  }
}

/** The RP id (default: the host of APP_URL) and the allowed origins (default: the origin of APP_URL). */
function relyingParty(cfg: { APP_URL: string; WEBAUTHN_RP_ID?: string; WEBAUTHN_ORIGINS: string[] }): {
  id: string;
  origins: string[];
} {
  const app = new URL(cfg.APP_URL);
  return {
    id: (cfg.WEBAUTHN_RP_ID ?? app.hostname).toLowerCase(),
    origins: cfg.WEBAUTHN_ORIGINS.length > 0 ? cfg.WEBAUTHN_ORIGINS : [app.origin],
  };
}

/**
 * Why `origin` cannot carry passkeys of `rpId`, or null. Browsers only let a page use an RP id equal to
 * its host or a registrable suffix of it (WebAuthn L3 §5.1.4.1 step 8), so any other origin is a
 * configuration mistake that would fail every ceremony: refuse it at start-up instead.
 */
function originProblem(origin: string, rpId: string, production: boolean): string | null {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return `"${origin}" is not a URL (write origins as https://app.example.com)`;
  }
  if (url.origin !== origin.replace(/\/+$/, "")) {
    return `"${origin}" is not a bare origin (scheme://host[:port], no path)`;
  }
  const host = url.hostname;
  if (host !== rpId && !host.endsWith(`.${rpId}`)) {
    return `the host of "${origin}" is neither WEBAUTHN_RP_ID (${rpId}) nor a subdomain of it`;
  }
  // Browsers offer passkeys to secure contexts only; outside production a loopback http URL is allowed.
  if (url.protocol !== "https:" && production) {
    return `"${origin}" must be https (browsers only offer passkeys to secure origins)`;
  }
  return null;
}

// No TypeScript-only syntax in this file: scripts/dev.mjs imports it with Node's type stripping.
export class ConfigError extends Error {
  readonly problems: string[];

  constructor(problems: string[]) {
    super(`Invalid configuration: ${problems.join("; ")}`);
    this.problems = problems;
    this.name = "ConfigError";
  }
}

/** Every string-valued binding of the Worker env is a candidate setting; bindings are ignored. */
function settingsOf(env: object): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    // An empty value (`KEY=` in .dev.vars) means "unset", so defaults apply.
    if (typeof v === "string") {
      if (v.trim() !== "") out[k] = v;
    } else if (typeof v === "number" || typeof v === "boolean") out[k] = String(v);
  }
  return out;
}

export function parseConfig(env: object): Config {
  const result = ConfigSchema.safeParse(settingsOf(env));
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map(
        (i) => `${i.path.join(".") || "(env)"}: ${i.message.replace(/^Invalid input: /, "")}`,
      ),
    );
  }
  return result.data;
}

// Parsed once per isolate (per env object: workerd hands the same object to every request).
const cache = new WeakMap<object, Config | ConfigError>();
let warned = false;

export function getConfig(env: object): Config {
  let cfg = cache.get(env);
  if (cfg === undefined) {
    try {
      cfg = parseConfig(env);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      cfg = err;
    }
    cache.set(env, cfg);
    if (
      !(cfg instanceof ConfigError) &&
      cfg.usingDevelopmentSecret &&
      !warned &&
      cfg.ENVIRONMENT !== "test"
    ) {
      warned = true;
      console.warn(
        "\n!!! edge-auth: SECRET_KEY is not set; using the built-in DEVELOPMENT secret. Tokens are forgeable. " +
          "Set SECRET_KEY (wrangler secret put SECRET_KEY) before exposing this service. !!!\n",
      );
    }
  }
  if (cfg instanceof ConfigError) throw cfg;
  return cfg;
}
