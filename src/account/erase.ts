import { auditEntry, recordEvent } from "../audit/record";
import { personKeys } from "../auth/throttle";
import type { AuthContext, RequestMeta } from "../context";
import type { Deps } from "../deps";
import { AppError } from "../errors";
import type { AuditEntry, User } from "../storage/types";
import { failureKey as twoFactorFailureKey } from "../twofactor/service";

/**
 * DELETE /auth/me: the account and everything keyed by the person go in one transaction
 * (AccountRepository.erase). Every access token dies with it: authentication reads the session row and
 * the account in one statement, and both are gone. The audit entries stay, without IP or user agent.
 */
export async function deleteAccount(deps: Deps, user: User, meta: RequestMeta): Promise<void> {
  const now = deps.now();
  // The final entry is pseudonymous like the ones before it: no IP, no user agent, no address.
  const audit = {
    ...auditEntry(
      deps,
      { ...meta, ip: null, userAgent: null },
      { action: "account_deleted", userId: user.id },
    ),
    createdAt: now,
  };
  const erased = await deps.db.accounts.erase({
    userId: user.id,
    email: user.email,
    personKeys: [...(await personKeys(deps, user.email)), twoFactorFailureKey(user.id)],
    audit,
    now,
  });
  // A parallel deletion won: for this caller the account no longer exists.
  if (!erased) throw new AppError("unauthorized");
}

/** At most this many audit entries in an export (newest first); `truncated` says when more exist. */
export const EXPORT_AUDIT_LIMIT = 2_000;
const EXPORT_AUDIT_PAGE = 200;

export interface AccountExport {
  user: User;
  sessions: Awaited<ReturnType<Deps["db"]["sessions"]["listActive"]>>;
  providers: Awaited<ReturnType<Deps["db"]["oauthAccounts"]["listForUser"]>>;
  passkeys: Awaited<ReturnType<Deps["db"]["passkeys"]["listForUser"]>>;
  recoveryCodesRemaining: number;
  audit: AuditEntry[];
  auditTruncated: boolean;
}

/** GET /auth/me/export: everything the service holds about the caller, read page by bounded page. */
export async function exportAccount(
  deps: Deps,
  auth: AuthContext,
  user: User,
  meta: RequestMeta,
): Promise<AccountExport> {
  const now = deps.now();
  const [sessions, providers, passkeys, recoveryCodesRemaining] = await Promise.all([
    deps.db.sessions.listActive(auth.userId, now),
    deps.db.oauthAccounts.listForUser(user.id),
    deps.db.passkeys.listForUser(user.id),
    user.twoFactorEnabled ? deps.db.twoFactor.countRecoveryCodes(user.id) : Promise.resolve(0),
  ]);
  const audit: AuditEntry[] = [];
  let cursor: string | null = null;
  let auditTruncated = false;
  for (;;) {
    const page = await deps.db.audit.list({
      userId: user.id,
      limit: Math.min(EXPORT_AUDIT_PAGE, EXPORT_AUDIT_LIMIT - audit.length),
      cursor,
    });
    audit.push(...page.items);
    cursor = page.nextCursor;
    if (!cursor) break;
    if (audit.length >= EXPORT_AUDIT_LIMIT) {
      auditTruncated = true;
      break;
    }
  }
  recordEvent(deps, meta, { action: "account_exported", userId: user.id });
  return { user, sessions, providers, passkeys, recoveryCodesRemaining, audit, auditTruncated };
}
