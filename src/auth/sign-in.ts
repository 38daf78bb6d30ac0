import { type AuditEvent, auditEntry } from "../audit/record";
import type { RequestMeta } from "../context";
import type { Deps } from "../deps";
import { newId, randomToken } from "../lib/crypto";
import type { PreparedTail, User } from "../storage/types";
import { presentTokens } from "./present";
import { hashToken, issueAccessToken, newRefreshToken } from "./tokens";

export type SignInMethod = "password" | "google" | "facebook" | "email_login";

/** A session's token pair as the services hand it to the routes (presented by auth/present.ts). */
export interface SessionTokens {
  accessToken: string;
  refreshToken: string;
  /** Seconds until the access token expires. */
  expiresIn: number;
}

/** OAuth 2.0 token response (RFC 6749 §5.1). */
export interface TokenResponse {
  access_token: string;
  refresh_token: string;
  token_type: "bearer";
  expires_in: number;
}

export interface MfaChallenge {
  mfa_required: true;
  mfa_token: string;
  expires_in: number;
}

export const MFA_TOKEN_TTL_SECONDS = 300;

/**
 * Opens a session and returns its first token pair. `event` (the sign-in) is written with the session,
 * in the same transaction and round trip, so a session never exists without its audit entry and the
 * answer waits for one write, not two.
 */
export async function startSession(
  deps: Deps,
  user: User,
  meta: RequestMeta,
  event: AuditEvent,
  /** When the credential was proved (the session's auth_time); now when omitted; null when none was. */
  provedAt?: Date | null,
  /** The user's chain tail, read while the credential was checked (audit/record.ts prepareChain). */
  prepared?: PreparedTail,
): Promise<SessionTokens> {
  const now = deps.now();
  const authTime = provedAt === undefined ? now : provedAt;
  const sessionId = newId();
  const refreshToken = newRefreshToken();
  const refreshHash = await hashToken(refreshToken);
  // The access token is signed while the session row is written; it is only handed out once the write
  // succeeded.
  const [, access] = await Promise.all([
    deps.db.sessions.create(
      {
        id: sessionId,
        userId: user.id,
        refreshHash,
        expiresAt: new Date(now.getTime() + deps.config.REFRESH_TOKEN_EXPIRE_DAYS * 86_400_000),
        ip: meta.ip,
        userAgent: meta.userAgent,
        now,
        authenticatedAt: authTime,
      },
      auditEntry(deps, meta, event),
      prepared,
    ),
    issueAccessToken(deps.config, user.id, sessionId, authTime, now),
  ]);
  return { accessToken: access.token, refreshToken, expiresIn: access.expiresIn };
}

/**
 * The end of every first factor (password, Google, Facebook): a 2FA user gets a single-use, 5-minute
 * mfa_token bound to the user and the method (it is opaque, so no endpoint accepts it as a bearer token);
 * everyone else gets tokens, whose session dates its proof at `provedAt` (now when omitted; a sign-in code
 * exchanged later passes the time of the first factor, so the exchange cannot extend the recent window).
 */
export async function completeSignIn(
  deps: Deps,
  user: User,
  method: SignInMethod,
  meta: RequestMeta,
  provedAt?: Date,
  prepared?: PreparedTail,
): Promise<TokenResponse | MfaChallenge> {
  if (user.twoFactorEnabled) {
    const now = deps.now();
    const mfaToken = randomToken(32);
    await deps.db.tokens.create({
      tokenHash: await hashToken(mfaToken),
      purpose: "mfa",
      userId: user.id,
      data: { method },
      expiresAt: new Date(now.getTime() + MFA_TOKEN_TTL_SECONDS * 1000),
      now,
    });
    return { mfa_required: true, mfa_token: mfaToken, expires_in: MFA_TOKEN_TTL_SECONDS };
  }
  return presentTokens(
    await startSession(
      deps,
      user,
      meta,
      { action: "login_succeeded", userId: user.id, metadata: { method } },
      provedAt,
      prepared,
    ),
  );
}
