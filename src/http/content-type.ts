/**
 * The one reading of a request's Content-Type. The 415 gate, the body guard and the routes that also
 * take a form all ask this, so they can never disagree about what a body is: a type the gate lets in as
 * JSON is exactly the type the guard inspects.
 */
import type { Context } from "hono";

export type BodyType = "json" | "form" | "other";

// application/json and any structured-syntax `+json` type (RFC 6839), e.g. application/merge-patch+json.
// A superset of what Hono's json validator parses, so nothing reaches a validator unguarded.
const JSON_TYPE = /^application\/(?:[a-z0-9.+-]+\+)?json$/;
const FORM_TYPE = "application/x-www-form-urlencoded";

/** The media type of a Content-Type header value: no parameters, lower case; "" when absent. */
export function mediaType(header: string | undefined | null): string {
  return (header ?? "").split(";")[0]!.trim().toLowerCase();
}

export function bodyTypeOf(header: string | undefined | null): BodyType {
  const type = mediaType(header);
  if (JSON_TYPE.test(type)) return "json";
  if (type === FORM_TYPE) return "form";
  return "other";
}

/** What the request's body claims to be. */
export function requestBodyType(c: Context): BodyType {
  return bodyTypeOf(c.req.header("Content-Type"));
}
