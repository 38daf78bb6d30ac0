import { EdgeAuthError, errorFrom } from "./errors";

/** `fetch`, or anything shaped like it: a service binding's `fetch` in a Worker (`env.AUTH.fetch`). */
export type FetchLike = (request: Request) => Promise<Response>;

export type Body = Record<string, unknown> | undefined;

/** One API call; a failure to get any answer is `network_error`. */
export async function request(
  send: FetchLike,
  base: string,
  method: string,
  path: string,
  body?: Body,
  token?: string,
): Promise<Response> {
  const headers = new Headers({ Accept: "application/json" });
  if (body !== undefined) headers.set("Content-Type", "application/json");
  if (token) headers.set("Authorization", `Bearer ${token}`);
  const req = new Request(`${base}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  try {
    return await send(req);
  } catch (err) {
    throw new EdgeAuthError(
      { code: "network_error", status: 0, detail: "The service could not be reached." },
      { cause: err },
    );
  }
}

/** The answer's JSON (undefined for 204), or the typed error of a failed answer. */
export async function readJson<T>(res: Response): Promise<T> {
  if (!res.ok) throw await errorFrom(res);
  if (res.status === 204) return undefined as T;
  try {
    return (await res.json()) as T;
  } catch (err) {
    throw new EdgeAuthError(
      { code: "invalid_response", status: res.status, detail: "The answer is not JSON." },
      { cause: err },
    );
  }
}

/** RFC 6750 §3.1: the access token was refused as invalid or expired (not a wrong password, say). */
export async function isTokenRefused(res: Response): Promise<boolean> {
  try {
    const body = (await res.clone().json()) as { code?: unknown };
    return body.code === "invalid_token";
  } catch {
    return false;
  }
}
