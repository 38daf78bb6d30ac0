import type { RequestMeta } from "../context";
import type { Deps } from "../deps";
import { AppError } from "../errors";
import { randomToken } from "../lib/crypto";
import type { User } from "../storage/types";
import { presentTokens } from "./present";
import {
  completeSignIn,
  type MfaChallenge,
  type SignInMethod,
  startSession,
  type TokenResponse,
} from "./sign-in";
import { hashToken } from "./tokens";

export const SIGN_IN_CODE_TTL_SECONDS = 60;

const METHODS: readonly SignInMethod[] = ["password", "google", "facebook"];

/**
 * Hands a finished first factor over to a browser through a redirect (RFC 9700: no tokens in URLs). The
 * code is single use, lives 60 s and is stored hashed; it carries only who signed in, how and when, so the
 * session (or the second-factor challenge) is created when it is exchanged, never stored. The OAuth
 * callbacks use it for redirect_to; the hosted login page can use it for its own redirect_to.
 */
export async function issueSignInCode(deps: Deps, user: User, method: SignInMethod): Promise<string> {
  const code = randomToken(32);
  const now = deps.now();
  await deps.db.tokens.create({
    tokenHash: await hashToken(code),
    purpose: "sign_in_code",
    userId: user.id,
    // The first factor's time, so the session's auth_time is the proof's, not the exchange's.
    data: { method, proved_at: now.getTime() },
    expiresAt: new Date(now.getTime() + SIGN_IN_CODE_TTL_SECONDS * 1000),
    now,
  });
  return code;
}

/** `redirectTo` with `?code=` added (any query it already has is kept). */
export function withSignInCode(redirectTo: string, code: string): string {
  const url = new URL(redirectTo);
  url.searchParams.set("code", code);
  return url.toString();
}

/**
 * `POST /auth/oauth/exchange`: consumes the code in one conditional UPDATE (of parallel exchanges exactly
 * one wins), then finishes the sign-in as the first factor would have: tokens, or `mfa_required`.
 */
export async function exchangeSignInCode(
  deps: Deps,
  code: string,
  meta: RequestMeta,
): Promise<TokenResponse | MfaChallenge> {
  const consumed = await deps.db.tokens.consume("sign_in_code", await hashToken(code), deps.now());
  const handover = consumed?.data?.method === "handover";
  const method = METHODS.find((m) => m === consumed?.data?.method);
  if (!consumed?.userId || (!method && !handover)) throw new AppError("invalid_code");
  const user = await deps.db.users.findById(consumed.userId);
  if (!user) throw new AppError("invalid_code");
  // Disabled between the callback and the exchange: the sign-in ends here.
  if (!user.isActive) throw new AppError("account_disabled");
  const raw = consumed.data?.proved_at;
  const provedAt = typeof raw === "number" && Number.isFinite(raw) ? new Date(raw) : undefined;
  if (handover) {
    // "Sign out everywhere" (or a password change or reset) after the hand-over also ends the sign-in
    // still travelling as this code.
    const issuedAt = consumed.data?.issued_at;
    if (
      user.sessionsRevokedAt &&
      (typeof issuedAt !== "number" || user.sessionsRevokedAt.getTime() >= issuedAt)
    )
      throw new AppError("invalid_code");
    // A hand-over (auth/handover.ts) comes from a session that already passed every factor: it moves
    // that sign-in as is, second factor included, with the session's own proof time (none: not recent).
    const event = { action: "login_succeeded", userId: user.id, metadata: { method: "handover" } } as const;
    return presentTokens(await startSession(deps, user, meta, event, provedAt ?? null));
  }
  return completeSignIn(deps, user, method!, meta, provedAt);
}
