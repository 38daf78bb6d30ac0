import type { Session } from "../storage/types";
import type { SessionTokens, TokenResponse } from "./sign-in";

/** OAuth 2.0 token response (RFC 6749 §5.1) of a session's token pair. */
export function presentTokens(tokens: SessionTokens): TokenResponse {
  return {
    access_token: tokens.accessToken,
    refresh_token: tokens.refreshToken,
    token_type: "bearer",
    expires_in: tokens.expiresIn,
  };
}

export interface SessionJson {
  id: string;
  created_at: string;
  last_used_at: string;
  ip: string | null;
  user_agent: string | null;
  current: boolean;
}

/** A session as GET /auth/sessions lists it; `current` marks the caller's own. */
export function presentSession(session: Session, currentSessionId: string): SessionJson {
  return {
    id: session.id,
    created_at: session.createdAt.toISOString(),
    last_used_at: session.lastUsedAt.toISOString(),
    ip: session.ip,
    user_agent: session.userAgent,
    current: session.id === currentSessionId,
  };
}
