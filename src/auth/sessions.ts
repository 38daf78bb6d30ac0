import { auditEntry, recordEvent } from "../audit/record";
import type { AuthContext, RequestMeta } from "../context";
import type { Deps } from "../deps";
import { AppError } from "../errors";
import type { Session } from "../storage/types";
import { legacyTokensAccepted, revokedSince, verifyLegacyToken } from "./legacy-tokens";
import { TokenSchema } from "./schemas";
import { type SessionTokens, startSession } from "./sign-in";
import { hashToken, issueAccessToken, successorRefreshToken } from "./tokens";

/** Two tabs refreshing at once: the just-rotated token stays good for this long (API.md). */
export const REFRESH_GRACE_MS = 10_000;

export async function refreshSession(
  deps: Deps,
  refreshToken: string,
  meta: RequestMeta,
): Promise<SessionTokens> {
  // Ours are opaque base64url; a JWT (it has dots) can only be a FastAPI refresh token.
  if (refreshToken.includes(".") && legacyTokensAccepted(deps.config, deps.now())) {
    return exchangeLegacyRefreshToken(deps, refreshToken, meta);
  }
  // Not shaped like any refresh token we issue: the same 401 as an unknown one, without a store lookup.
  if (!TokenSchema.safeParse(refreshToken).success) throw new AppError("invalid_refresh_token");
  const now = deps.now();
  const next = await successorRefreshToken(deps.config, refreshToken);
  // The rotation's audit entry is written in its transaction, only by the call that rotates.
  const { userId: _, ...rotated } = auditEntry(deps, meta, {
    action: "token_refreshed",
    userId: null,
    metadata: { grace: false },
  });
  const result = await deps.db.sessions.rotate(
    await hashToken(refreshToken),
    await hashToken(next),
    now,
    REFRESH_GRACE_MS,
    rotated,
  );
  if (result.kind === "invalid") throw new AppError("invalid_refresh_token");
  if (result.kind === "reused") {
    // RFC 9700 §4.14.2: a replayed refresh token means it leaked; kill the whole session.
    await revokeSessions(deps, [result.session.id]);
    recordEvent(deps, meta, {
      action: "refresh_token_reused",
      userId: result.session.userId,
      metadata: { session_id: result.session.id },
    });
    throw new AppError("invalid_refresh_token");
  }
  // A refresh never renews the proof: the new token carries the session's last one (API.md).
  const { session } = result;
  const access = await issueAccessToken(
    deps.config,
    session.userId,
    session.id,
    session.authenticatedAt,
    now,
  );
  if (result.kind === "grace") {
    recordEvent(deps, meta, {
      action: "token_refreshed",
      userId: result.session.userId,
      metadata: { grace: true },
    });
  }
  return { accessToken: access.token, refreshToken: next, expiresIn: access.expiresIn };
}

/**
 * A FastAPI refresh token, exchanged once for a new session of ours. Its jti is recorded as spent by one
 * conditional INSERT before the session opens: of two concurrent exchanges exactly one wins, the other
 * (and any later use) is 401.
 */
async function exchangeLegacyRefreshToken(
  deps: Deps,
  refreshToken: string,
  meta: RequestMeta,
): Promise<SessionTokens> {
  const now = deps.now();
  const legacy = await verifyLegacyToken(deps.config, refreshToken, "refresh", now);
  if (!legacy) throw new AppError("invalid_refresh_token");
  const user = await deps.db.users.findById(legacy.userId);
  if (!user?.isActive || revokedSince(user.sessionsRevokedAt, legacy)) {
    throw new AppError("invalid_refresh_token");
  }
  if (!(await deps.db.tokens.spendLegacy(legacy.jti, user.id, now))) {
    recordEvent(deps, meta, {
      action: "refresh_token_reused",
      userId: user.id,
      metadata: { legacy: true },
    });
    throw new AppError("invalid_refresh_token");
  }
  // An exchanged refresh token proves no credential: the new session is never recently authenticated.
  return startSession(
    deps,
    user,
    meta,
    { action: "token_refreshed", userId: user.id, metadata: { legacy: true } },
    null,
  );
}

/**
 * Revokes sessions in the relational store. Their access tokens die with them: authenticate reads the
 * session row on every request, so nothing needs writing to KV (which could not decide anyway).
 */
export async function revokeSessions(deps: Deps, sessionIds: string[]): Promise<void> {
  const now = deps.now();
  await Promise.all(sessionIds.map((id) => deps.db.sessions.revoke(id, now)));
}

/** Revokes every live session of the user (but `exceptSessionId`); returns how many. */
export async function revokeAllSessions(
  deps: Deps,
  userId: string,
  exceptSessionId?: string,
): Promise<number> {
  const now = deps.now();
  // One statement whatever the number of sessions (no per-session write anywhere else); legacy FastAPI
  // tokens have no session row, so the account's date is what kills those issued before it.
  const [ids] = await Promise.all([
    deps.db.sessions.revokeAllForUser(userId, now, exceptSessionId),
    deps.db.users.update(userId, { sessionsRevokedAt: now }, now),
  ]);
  return ids.length;
}

/**
 * Revokes the caller's session and, when the body names a refresh token of another live session of the
 * same user (a client that kept an older pair), that session too. A token of someone else's session, or
 * an unknown one, changes nothing and is not reported: the answer is 204 either way.
 */
export async function logout(
  deps: Deps,
  auth: AuthContext,
  meta: RequestMeta,
  refreshToken?: string,
): Promise<void> {
  // A FastAPI access token has no session here: signing out spends its jti, which authenticate checks,
  // so the token is refused from now on (in every location: the relational store decides).
  const legacy = auth.sessionId.startsWith("legacy:");
  if (legacy) await deps.db.tokens.spendLegacy(auth.jti, auth.userId, deps.now());
  const ids = legacy ? [] : [auth.sessionId];
  if (refreshToken) {
    const named = await deps.db.sessions.findByRefreshHash(await hashToken(refreshToken));
    if (named && named.userId === auth.userId && named.id !== auth.sessionId && named.revokedAt === null) {
      ids.push(named.id);
    }
  }
  await revokeSessions(deps, ids);
  if (legacy) recordEvent(deps, meta, { action: "logout", userId: auth.userId, metadata: { legacy: true } });
  for (const id of ids) {
    recordEvent(deps, meta, { action: "logout", userId: auth.userId, metadata: { session_id: id } });
  }
}

export async function logoutAll(deps: Deps, auth: AuthContext, meta: RequestMeta): Promise<void> {
  const count = await revokeAllSessions(deps, auth.userId);
  recordEvent(deps, meta, { action: "logout_all", userId: auth.userId, metadata: { sessions: count } });
}

/** The user's live sessions (the route marks the caller's own). */
export function listSessions(deps: Deps, auth: AuthContext): Promise<Session[]> {
  return deps.db.sessions.listActive(auth.userId, deps.now());
}

export async function revokeOwnSession(
  deps: Deps,
  auth: AuthContext,
  sessionId: string,
  meta: RequestMeta,
): Promise<void> {
  const session = await deps.db.sessions.findById(sessionId);
  // Another user's session is indistinguishable from a missing one.
  if (!session || session.userId !== auth.userId || session.revokedAt !== null)
    throw new AppError("not_found");
  await revokeSessions(deps, [sessionId]);
  recordEvent(deps, meta, {
    action: "session_revoked",
    userId: auth.userId,
    metadata: { session_id: sessionId },
  });
}
