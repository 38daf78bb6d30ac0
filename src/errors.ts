import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { ZodError } from "zod";
import { ConfigError } from "./config";
import { InvalidCursorError } from "./storage/errors";

/** The stable error catalog: `code` is what clients switch on; `detail` is for humans. */
export const ErrorCode = {
  // 400
  bad_request: { status: 400, title: "Bad Request", detail: "The request could not be understood." },
  malformed_json: { status: 400, title: "Bad Request", detail: "The request body is not valid JSON." },
  invalid_token: {
    status: 400,
    title: "Bad Request",
    detail: "The token is invalid, expired or already used.",
  },
  invalid_code: { status: 400, title: "Bad Request", detail: "The code is invalid or was already used." },
  invalid_state: {
    status: 400,
    title: "Bad Request",
    detail: "The sign-in state is missing, expired or does not match.",
  },
  invalid_redirect: {
    status: 400,
    title: "Bad Request",
    detail: "redirect_to is not an allowed redirect URL.",
  },
  invalid_passkey: {
    status: 400,
    title: "Bad Request",
    detail: "The passkey could not be verified; start again with new options.",
  },
  oauth_failed: {
    status: 400,
    title: "Bad Request",
    detail: "The provider did not accept the authorization code.",
  },
  // 401
  unauthorized: { status: 401, title: "Unauthorized", detail: "Not authenticated." },
  invalid_credentials: { status: 401, title: "Unauthorized", detail: "Incorrect email or password." },
  invalid_access_token: { status: 401, title: "Unauthorized", detail: "The token is invalid or expired." },
  invalid_refresh_token: { status: 401, title: "Unauthorized", detail: "The token is invalid or expired." },
  invalid_mfa_token: {
    status: 401,
    title: "Unauthorized",
    detail: "The mfa_token is invalid, expired or already used; sign in again.",
  },
  invalid_mfa_code: {
    status: 401,
    title: "Unauthorized",
    detail: "The code is invalid or was already used.",
  },
  invalid_provider_token: {
    status: 401,
    title: "Unauthorized",
    detail: "The provider token could not be verified.",
  },
  invalid_passkey_assertion: {
    status: 401,
    title: "Unauthorized",
    detail: "The passkey could not be verified; start again with new options.",
  },
  // 403
  forbidden: { status: 403, title: "Forbidden", detail: "You are not allowed to do this." },
  email_not_verified: { status: 403, title: "Forbidden", detail: "Verify your email address first." },
  account_disabled: { status: 403, title: "Forbidden", detail: "This account is disabled." },
  reauthentication_required: {
    status: 403,
    title: "Forbidden",
    detail:
      "Confirm it is you first: sign in again, or POST /auth/reauthenticate with your password or a code.",
  },
  // 404
  not_found: { status: 404, title: "Not Found", detail: "Not found." },
  provider_not_configured: {
    status: 404,
    title: "Not Found",
    detail: "This sign-in provider is not configured.",
  },
  // 405, 409, 413, 415
  method_not_allowed: { status: 405, title: "Method Not Allowed", detail: "Method not allowed." },
  conflict: { status: 409, title: "Conflict", detail: "The request conflicts with the current state." },
  account_exists: {
    status: 409,
    title: "Conflict",
    detail:
      "An account already uses this email address. Sign in to it, then link this provider from your account.",
  },
  two_factor_already_enabled: {
    status: 409,
    title: "Conflict",
    detail: "Two-factor authentication is already enabled.",
  },
  two_factor_not_enabled: {
    status: 409,
    title: "Conflict",
    detail: "Two-factor authentication is not enabled.",
  },
  two_factor_not_pending: { status: 409, title: "Conflict", detail: "Call /auth/2fa/setup first." },
  last_sign_in_method: {
    status: 409,
    title: "Conflict",
    detail: "This is the account's last way to sign in; add a password, passkey or provider first.",
  },
  email_taken: {
    status: 409,
    title: "Conflict",
    detail: "Another account uses this email address now; the change was not made.",
  },
  username_taken: { status: 409, title: "Conflict", detail: "This username is taken; choose another." },
  payload_too_large: {
    status: 413,
    title: "Payload Too Large",
    detail: "The request body is larger than 64 KiB.",
  },
  unsupported_media_type: {
    status: 415,
    title: "Unsupported Media Type",
    detail: "Send the body as application/json.",
  },
  // 422
  validation_error: { status: 422, title: "Unprocessable Content", detail: "The request is not valid." },
  weak_password: { status: 422, title: "Unprocessable Content", detail: "The password is too weak." },
  // 429
  rate_limited: { status: 429, title: "Too Many Requests", detail: "Too many requests; try again later." },
  // 5xx
  internal_error: {
    status: 500,
    title: "Internal Server Error",
    detail: "Something went wrong on our side.",
  },
  misconfigured: { status: 500, title: "Internal Server Error", detail: "The service is misconfigured." },
  provider_unavailable: {
    status: 502,
    title: "Bad Gateway",
    detail: "The sign-in provider could not be reached; try again shortly.",
  },
  overloaded: {
    status: 503,
    title: "Service Unavailable",
    detail: "Too many sign-ins are being processed; try again shortly.",
  },
  storage_unavailable: {
    status: 503,
    title: "Service Unavailable",
    detail: "Storage is unavailable; try again shortly.",
  },
} as const satisfies Record<string, { status: number; title: string; detail: string }>;

export type ErrorCodeName = keyof typeof ErrorCode;

/** Wire codes that differ from the catalog key (the catalog keeps one entry per status). */
const WIRE_CODE = {
  invalid_access_token: "invalid_token",
  invalid_refresh_token: "invalid_token",
  invalid_mfa_token: "invalid_token",
  invalid_mfa_code: "invalid_code",
  invalid_provider_token: "invalid_token",
  invalid_passkey_assertion: "invalid_passkey",
} as const satisfies Partial<Record<ErrorCodeName, string>>;

/** The `code` values a client can receive (the typed client in src/client switches on these). */
export type WireErrorCode =
  | Exclude<ErrorCodeName, keyof typeof WIRE_CODE>
  | (typeof WIRE_CODE)[keyof typeof WIRE_CODE];

export interface FieldError {
  path: string;
  message: string;
}

export interface AppErrorOptions {
  detail?: string;
  errors?: FieldError[];
  headers?: Record<string, string>;
  cause?: unknown;
}

export class AppError extends Error {
  readonly status: number;
  readonly errors?: FieldError[];
  readonly headers?: Record<string, string>;

  constructor(
    readonly code: ErrorCodeName,
    options: AppErrorOptions = {},
  ) {
    super(options.detail ?? ErrorCode[code].detail, { cause: options.cause });
    this.name = "AppError";
    this.status = ErrorCode[code].status;
    this.errors = options.errors;
    this.headers = options.headers;
  }

  get wireCode(): string {
    return (WIRE_CODE as Partial<Record<ErrorCodeName, string>>)[this.code] ?? this.code;
  }
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  errors?: FieldError[];
  request_id?: string;
}

export function zodFieldErrors(err: ZodError): FieldError[] {
  return err.issues.map((i) => ({
    path: i.path.map(String).join(".") || "(body)",
    // zod's messages never echo the value, so nothing secret leaks here.
    message: i.message,
  }));
}

export function problemResponse(c: Context, err: AppError): Response {
  const requestId = c.get("requestId") as string | undefined;
  const body: Problem = {
    type: `about:blank#${err.wireCode}`,
    title: ErrorCode[err.code].title,
    status: err.status,
    detail: err.message,
    code: err.wireCode,
  };
  if (err.errors) body.errors = err.errors;
  if (requestId) body.request_id = requestId;
  const headers = new Headers(err.headers);
  headers.set("Content-Type", "application/problem+json; charset=utf-8");
  headers.set("Cache-Control", "no-store");
  if (requestId) headers.set("X-Request-Id", requestId);
  if (err.status === 401 && !headers.has("WWW-Authenticate")) {
    headers.set(
      "WWW-Authenticate",
      err.code === "invalid_access_token" ? 'Bearer error="invalid_token"' : 'Bearer realm="edge-auth"',
    );
  }
  return new Response(JSON.stringify(body), { status: err.status, headers });
}

/** Maps anything thrown to an AppError; unknown errors become a generic 500 and are logged. */
export function toAppError(err: unknown, requestId: string | undefined): AppError {
  if (err instanceof AppError) return err;
  if (err instanceof ZodError) return new AppError("validation_error", { errors: zodFieldErrors(err) });
  if (err instanceof InvalidCursorError) {
    return new AppError("validation_error", { errors: [{ path: "cursor", message: err.message }] });
  }
  if (err instanceof ConfigError) {
    console.error(JSON.stringify({ level: "error", request_id: requestId, msg: err.message }));
    return new AppError("misconfigured");
  }
  if (err instanceof HTTPException) {
    const byStatus: Partial<Record<number, ErrorCodeName>> = {
      400: "malformed_json",
      401: "unauthorized",
      404: "not_found",
      413: "payload_too_large",
      415: "unsupported_media_type",
    };
    const code = byStatus[err.status];
    if (code) return new AppError(code);
  }
  if (isStorageUnavailable(err)) {
    console.error(
      JSON.stringify({
        level: "error",
        request_id: requestId,
        msg: "storage unavailable",
        error: describe(err),
      }),
    );
    return new AppError("storage_unavailable");
  }
  const table = missingTable(err);
  if (table) {
    // Not a bug in the request: the deployment is incomplete. 503 (try again once migrated), and the log
    // says the same as /health.
    console.error(
      JSON.stringify({
        level: "error",
        request_id: requestId,
        msg: `migrations pending: ${table}; apply the migrations (see /health)`,
      }),
    );
    return new AppError("storage_unavailable");
  }
  console.error(
    JSON.stringify({ level: "error", request_id: requestId, msg: "unhandled error", error: describe(err) }),
  );
  return new AppError("internal_error");
}

export class StorageUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "StorageUnavailableError";
  }
}

function isStorageUnavailable(err: unknown): boolean {
  return err instanceof StorageUnavailableError;
}

/**
 * A statement that reached a table which does not exist: the schema is behind the code (migrations not
 * applied). D1 says "no such table: x"; Postgres raises 42P01 ('relation "x" does not exist'). Drizzle
 * wraps both, so the cause chain is searched. Returns the database's own words (names a table, no data).
 */
function missingTable(err: unknown): string | null {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const m = /no such table: [\w.]+|relation "[^"]+" does not exist/.exec(e.message);
    if (m && (!("code" in e) || e.code === "42P01" || /no such table/.test(m[0]))) return m[0];
  }
  return null;
}

function describe(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}${err.stack ? `\n${err.stack}` : ""}`;
  return String(err);
}

export function onError(err: Error, c: Context): Response {
  const appError = toAppError(err, c.get("requestId") as string | undefined);
  // On a developer's machine the reason belongs on the page, not only in a log nobody is watching. The
  // raw binding is read because the parsed config is exactly what failed; production keeps it in the log.
  const environment = (c.env as Record<string, unknown> | undefined)?.ENVIRONMENT;
  if (err instanceof ConfigError && environment === "development") {
    return problemResponse(c, new AppError("misconfigured", { detail: err.message }));
  }
  return problemResponse(c, appError);
}
