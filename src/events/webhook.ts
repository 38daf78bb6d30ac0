import { Webhook } from "standardwebhooks";
import { presentAuditEntry } from "../audit/present";
import type { AuditEntry } from "../storage/types";
import { WEBHOOK_TIMEOUT_MS } from "./policy";

/** Where events go and the key that signs them (WEBHOOK_URL, WEBHOOK_SECRET in its whsec_ form). */
export interface WebhookTarget {
  url: string;
  secret: string;
}

/** The body of an event: the entry as the audit API shows it, plus the event id receivers de-duplicate on. */
export function eventBody(entry: AuditEntry): string {
  return JSON.stringify({ ...presentAuditEntry(entry), event_id: entry.id });
}

/**
 * The Standard Webhooks headers for one attempt: the signature covers "<id>.<timestamp>.<body>" with
 * HMAC-SHA256 under the decoded secret (the `standardwebhooks` package, so any receiver library agrees).
 * Signed per attempt: receivers reject old timestamps (replay protection), and a retry may be hours later.
 */
export function signedHeaders(target: WebhookTarget, eventId: string, body: string, at: Date): Headers {
  const timestamp = Math.floor(at.getTime() / 1000);
  const signature = new Webhook(target.secret).sign(eventId, new Date(timestamp * 1000), body);
  return new Headers({
    "content-type": "application/json",
    "user-agent": "edge-auth-webhooks",
    "webhook-id": eventId,
    "webhook-timestamp": String(timestamp),
    "webhook-signature": signature,
  });
}

/** One attempt's result. `error` names what went wrong without quoting the receiver or the URL. */
export type AttemptResult =
  | { ok: true; status: number }
  | { ok: false; status: number | null; error: string };

/**
 * POSTs one event. Never follows a redirect (a receiver must not be able to bounce signed events, with
 * their user ids and IPs, to another host), and gives up after `timeoutMs`.
 */
export async function sendEvent(
  fetcher: typeof fetch,
  target: WebhookTarget,
  entry: AuditEntry,
  now: Date,
  timeoutMs = WEBHOOK_TIMEOUT_MS,
): Promise<AttemptResult> {
  const body = eventBody(entry);
  const signal = AbortSignal.timeout(timeoutMs);
  let response: Response;
  try {
    response = await fetcher(target.url, {
      method: "POST",
      headers: signedHeaders(target, entry.id, body, now),
      body,
      redirect: "manual",
      signal,
    });
  } catch (err) {
    if (signal.aborted) return { ok: false, status: null, error: `timed out after ${timeoutMs} ms` };
    // The error's name only: its message may quote the URL, which can carry a token.
    return {
      ok: false,
      status: null,
      error: `network error (${err instanceof Error ? err.name : "unknown"})`,
    };
  }
  // Nothing of the answer is kept but its status; release the connection.
  await response.body?.cancel().catch(() => {});
  if (response.status >= 200 && response.status < 300) return { ok: true, status: response.status };
  if (response.status >= 300 && response.status < 400) {
    return { ok: false, status: response.status, error: `redirect not followed (HTTP ${response.status})` };
  }
  return { ok: false, status: response.status, error: `HTTP ${response.status}` };
}
