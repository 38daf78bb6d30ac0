/**
 * The two things passkeys need from work that lands separately, behind one import each so the merge
 * rewires them here and nowhere else:
 * - recent authentication ("sudo mode", API.md "Recent authentication"): `requireRecentAuth`;
 * - security notices (passkey added / removed): `notifyPasskeyChange`.
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../context";
import type { Deps } from "../deps";
import { sendSecurityNotice } from "../email/security-notice";
import { AppError } from "../errors";
import type { User } from "../storage/types";

/** API.md: REAUTH_WINDOW_SECONDS, default 600. */
const REAUTH_WINDOW_MS = 600_000;

/**
 * 403 `reauthentication_required` unless the caller's session proved a credential within the window.
 * Until sessions carry `auth_time`, the proof is the sign-in that created the session: a refresh keeps
 * the session (and its creation time), so it does not renew the window, as the contract says.
 */
export const requireRecentAuth: MiddlewareHandler<AppEnv> = async (c, next) => {
  const deps = c.var.deps;
  const session = await deps.db.sessions.findById(c.var.auth.sessionId);
  if (!session || deps.now().getTime() - session.createdAt.getTime() > REAUTH_WINDOW_MS) {
    throw new AppError("reauthentication_required");
  }
  await next();
};

export type PasskeyNotice = "passkey_added" | "passkey_removed";

/** Tells the account's address that a passkey was added or removed (no secrets, no sign-in links). */
export function notifyPasskeyChange(deps: Deps, user: Pick<User, "email">, kind: PasskeyNotice): void {
  sendSecurityNotice(deps, user, kind);
}
