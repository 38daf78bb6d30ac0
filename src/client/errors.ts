import type { ErrorCode } from "./types";

export interface FieldError {
  path: string;
  message: string;
}

/**
 * Every failure of the client: a problem+json answer of the service (its `code`, `status`, `detail`), or
 * `network_error` (status 0: the request never got an answer) or `invalid_response` (an answer that is
 * not the API's). Switch on `code`; `detail` is for humans.
 */
export class EdgeAuthError extends Error {
  override name = "EdgeAuthError";
  readonly code: ErrorCode;
  readonly status: number;
  readonly detail: string;
  /** 422 validation errors, per field. */
  readonly errors?: FieldError[];
  /** Seconds, from `Retry-After` on 429 and 503. */
  readonly retryAfter?: number;
  readonly requestId?: string;

  constructor(
    init: {
      code: ErrorCode;
      status: number;
      detail: string;
      errors?: FieldError[];
      retryAfter?: number;
      requestId?: string;
    },
    options?: { cause?: unknown },
  ) {
    super(init.detail, options);
    this.code = init.code;
    this.status = init.status;
    this.detail = init.detail;
    this.errors = init.errors;
    this.retryAfter = init.retryAfter;
    this.requestId = init.requestId;
  }
}

/** Reads a failed response as the typed error; anything that is not problem+json is `invalid_response`. */
export async function errorFrom(res: Response): Promise<EdgeAuthError> {
  const retry = Number(res.headers.get("Retry-After"));
  const common = {
    status: res.status,
    retryAfter: Number.isFinite(retry) && retry > 0 ? retry : undefined,
    requestId: res.headers.get("X-Request-Id") ?? undefined,
  };
  let body: unknown;
  try {
    body = await res.json();
  } catch {
    body = undefined;
  }
  if (body && typeof body === "object" && typeof (body as { code?: unknown }).code === "string") {
    const p = body as { code: ErrorCode; detail?: unknown; errors?: FieldError[] };
    return new EdgeAuthError({
      ...common,
      code: p.code,
      detail: typeof p.detail === "string" ? p.detail : `HTTP ${res.status}`,
      errors: Array.isArray(p.errors) ? p.errors : undefined,
    });
  }
  return new EdgeAuthError({ ...common, code: "invalid_response", detail: `Unexpected HTTP ${res.status}` });
}
