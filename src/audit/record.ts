import type { RequestMeta } from "../context";
import type { Deps } from "../deps";
import { newId } from "../lib/crypto";
import type { NewAuditEntry, PreparedTail } from "../storage/types";
import { chainOf } from "./chain";

/**
 * Metadata keys each action may carry. Anything else is dropped before the write, so a password, token,
 * code or secret can never reach the log even by mistake.
 */
export const AUDIT_METADATA_KEYS = {
  register: ["outcome"],
  email_verified: [],
  verification_resent: [],
  login_succeeded: ["method", "mfa"],
  login_failed: ["reason", "email_hash", "method"],
  login_throttled: ["failures", "until"],
  token_refreshed: ["grace", "legacy"],
  refresh_token_reused: ["session_id"],
  logout: ["session_id", "legacy"],
  logout_all: ["sessions"],
  session_revoked: ["session_id"],
  // The hosted login page handed its session to an allow-listed app (auth/handover.ts).
  session_handed_over: ["session_id", "redirect_origin"],
  password_reset_requested: [],
  password_reset: ["sessions"],
  password_changed: ["sessions"],
  reauthenticated: ["method"],
  oauth_login: ["provider", "created"],
  oauth_linked: ["provider", "takeover"],
  "2fa_setup": [],
  "2fa_enabled": ["sessions"],
  "2fa_disabled": ["method"],
  "2fa_failed": ["failures", "locked"],
  "2fa_recovery_codes_regenerated": [],
  recovery_code_used: ["remaining"],
  user_updated: ["changes", "actor_id"],
  role_promoted: ["reason"],
  // Credential ids are public identifiers (the browser sends them in the clear), not secrets.
  passkey_added: ["passkey_id", "device_type", "backed_up"],
  passkey_removed: ["passkey_id"],
  passkey_login: ["passkey_id"],
  passkey_failed: ["reason", "passkey_id", "stage"],
  email_login_requested: ["outcome"],
  email_login: ["via", "created", "takeover", "mfa_required"],
  // Account lifecycle: never an address or a name (entries outlive an erasure, src/account/erase.ts).
  email_change_requested: [],
  email_changed: [],
  account_deleted: [],
  account_exported: [],
  oauth_unlinked: ["provider"],
  profile_updated: ["fields"],
} as const satisfies Record<string, readonly string[]>;

export type AuditAction = keyof typeof AUDIT_METADATA_KEYS;

export function sanitizeMetadata(
  action: AuditAction,
  metadata: Record<string, unknown>,
): Record<string, unknown> {
  const allowed: readonly string[] = AUDIT_METADATA_KEYS[action];
  const out: Record<string, unknown> = {};
  for (const key of allowed) if (metadata[key] !== undefined) out[key] = metadata[key];
  return out;
}

export interface AuditEvent {
  action: AuditAction;
  userId: string | null;
  metadata?: Record<string, unknown>;
}

/** The stored form of `event`: id, time and request metadata added, metadata reduced to its allowed keys. */
export function auditEntry(deps: Deps, meta: RequestMeta, event: AuditEvent): NewAuditEntry {
  return {
    id: newId(),
    userId: event.userId,
    action: event.action,
    ip: meta.ip,
    userAgent: meta.userAgent,
    createdAt: deps.now(),
    metadata: sanitizeMetadata(event.action, event.metadata ?? {}),
  };
}

/**
 * Appends an audit entry without making the response wait (executionCtx.waitUntil); a failed write is
 * logged loudly by Deps.defer.
 */
export function recordEvent(deps: Deps, meta: RequestMeta, event: AuditEvent): void {
  deps.defer(deps.db.audit.append(auditEntry(deps, meta, event)), `audit ${event.action}`);
}

/**
 * Starts reading where `userId`'s chain ends, for the session write a sign-in ends with, so that read
 * overlaps the work before it (the password hash, the second factor, the WebAuthn signature) instead of
 * preceding the write. Never rejects: a failed read only means the write reads the tail itself.
 */
export function prepareChain(deps: Deps, userId: string): PreparedTail {
  return { chain: chainOf(userId), tail: deps.db.audit.prepare(userId).catch(() => null) };
}
