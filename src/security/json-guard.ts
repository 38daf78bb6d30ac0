import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../context";
import { AppError } from "../errors";
import { requestBodyType } from "../http/content-type";

/** Deeper nesting than any of our bodies has is an attack on the parser, not a request. */
export const MAX_JSON_DEPTH = 32;

function badRequest(detail: string): AppError {
  return new AppError("bad_request", { detail });
}

/**
 * Finds a repeated key in any object of `text`, which must already be valid JSON. JSON.parse keeps the
 * last duplicate silently; a validator and a later reader could then disagree about the value
 * (CVE-2017-12635 style), so we refuse instead. Iterative, so nesting cannot overflow the stack.
 * Returns the offending key, or null.
 */
export function findDuplicateKey(text: string): string | null {
  const stack: ({ keys: Set<string>; expectKey: boolean } | null)[] = [];
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === "{") stack.push({ keys: new Set(), expectKey: true });
    else if (ch === "[") stack.push(null);
    else if (ch === "}" || ch === "]") stack.pop();
    else if (ch === ",") {
      const top = stack[stack.length - 1];
      if (top) top.expectKey = true;
    } else if (ch === '"') {
      const start = i;
      for (i++; text[i] !== '"'; i++) if (text[i] === "\\") i++;
      const top = stack[stack.length - 1];
      if (top?.expectKey) {
        // Decode escapes, so "a" and "\u0061" are the same key.
        const key = JSON.parse(text.slice(start, i + 1)) as string;
        if (top.keys.has(key)) return key;
        top.keys.add(key);
        top.expectKey = false;
      }
    }
  }
  return null;
}

/** Nesting depth of a valid JSON text, counted without recursion. */
export function jsonDepth(text: string): number {
  let depth = 0;
  let max = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '"') {
      for (i++; text[i] !== '"'; i++) if (text[i] === "\\") i++;
    } else if (ch === "{" || ch === "[") max = Math.max(max, ++depth);
    else if (ch === "}" || ch === "]") depth--;
  }
  return max;
}

function containsNul(value: unknown): boolean {
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const v = pending.pop();
    if (typeof v === "string") {
      if (v.includes("\u0000")) return true;
    } else if (Array.isArray(v)) pending.push(...v);
    else if (v !== null && typeof v === "object") {
      for (const [k, child] of Object.entries(v)) {
        if (k.includes("\u0000")) return true;
        pending.push(child);
      }
    }
  }
  return false;
}

/**
 * Reads JSON and form bodies once, before any validator: invalid UTF-8, malformed or too deeply nested
 * JSON and duplicate keys are 400, NUL characters (which truncate strings in C-based drivers and logs)
 * are 400. The decoded text stays in Hono's body cache, so the route's validator parses the same bytes.
 */
export const jsonGuardMiddleware: MiddlewareHandler<AppEnv> = async (c, next) => {
  const method = c.req.method;
  if (method === "GET" || method === "HEAD" || method === "OPTIONS") return next();
  const type = requestBodyType(c);
  if (type === "other") return next();

  const bytes = await c.req.arrayBuffer();
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw badRequest("The request body is not valid UTF-8.");
  }
  // Later readers (validators) get the checked text from the cache instead of the consumed stream.
  // (Hono stores promises there at runtime; its type says otherwise.)
  (c.req.bodyCache as Record<string, unknown>).text = Promise.resolve(text);

  if (type === "json") {
    if (text.trim() === "") return next();
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw new AppError("malformed_json");
    }
    if (jsonDepth(text) > MAX_JSON_DEPTH) throw badRequest("The JSON body is nested too deeply.");
    const duplicate = findDuplicateKey(text);
    if (duplicate !== null) throw badRequest("The JSON body repeats a key.");
    if (containsNul(value)) throw badRequest("Strings must not contain NUL characters.");
  } else if (containsNul([...new URLSearchParams(text)].flat())) {
    throw badRequest("Strings must not contain NUL characters.");
  }
  await next();
};
