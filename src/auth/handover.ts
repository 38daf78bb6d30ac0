import { recordEvent } from "../audit/record";
import type { AuthContext, RequestMeta } from "../context";
import type { Deps } from "../deps";
import { AppError } from "../errors";
import { randomToken } from "../lib/crypto";
import { isAllowedRedirect } from "../oauth/redirects";
import { SIGN_IN_CODE_TTL_SECONDS, withSignInCode } from "./sign-in-code";
import { hashToken } from "./tokens";

/**
 * `POST /auth/handover`: the hosted login page has signed the user in (every factor included) and hands
 * that sign-in to the allow-listed app in `redirectTo` with a one-time code, so tokens never travel in a
 * URL. The caller's session is ended in the same step: a hand-over moves a sign-in, it never clones one.
 * That revocation is one conditional UPDATE, so of any number of parallel hand-overs with one session
 * exactly one gets a code, and a stolen access token cannot be turned into a second, long-lived session
 * behind the owner's back (it ends the owner's). The route also demands a recent sign-in, and the new
 * session keeps the old proof time, so the hand-over cannot stretch the recent-authentication window.
 */
export async function handOverSession(
  deps: Deps,
  auth: AuthContext,
  redirectTo: string,
  meta: RequestMeta,
): Promise<string> {
  if (!isAllowedRedirect(deps.config, redirectTo)) throw new AppError("invalid_redirect");
  const now = deps.now();
  if (!(await deps.db.sessions.revoke(auth.sessionId, now))) throw new AppError("unauthorized");
  const code = randomToken(32);
  await deps.db.tokens.create({
    tokenHash: await hashToken(code),
    purpose: "sign_in_code",
    userId: auth.userId,
    data: {
      method: "handover",
      proved_at: auth.authenticatedAt?.getTime() ?? null,
      issued_at: now.getTime(),
    },
    expiresAt: new Date(now.getTime() + SIGN_IN_CODE_TTL_SECONDS * 1000),
    now,
  });
  recordEvent(deps, meta, {
    action: "session_handed_over",
    userId: auth.userId,
    metadata: { session_id: auth.sessionId, redirect_origin: new URL(redirectTo).origin },
  });
  return withSignInCode(redirectTo, code);
}
