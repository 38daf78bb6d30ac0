import type { RotateResult, Session } from "../types";

/**
 * Why a refresh token did not rotate, from the session that issued it (read after the failed swap):
 * gone, revoked or expired is invalid; the just-replaced token inside the grace window is the idempotent
 * retry; any other older token of a live session is reuse.
 */
export function classifyUnswapped(
  session: Session | null,
  presentedHash: string,
  now: Date,
  graceMs: number,
): RotateResult {
  if (!session || session.revokedAt !== null || session.expiresAt.getTime() <= now.getTime()) {
    return { kind: "invalid" };
  }
  if (
    session.previousHash === presentedHash &&
    session.rotatedAt !== null &&
    now.getTime() - session.rotatedAt.getTime() <= graceMs
  ) {
    return { kind: "grace", session };
  }
  // Still current, yet the swap did not match: cannot happen (hashes only move forward and a revoked or
  // expired session is caught above); refuse rather than guess.
  if (session.currentHash === presentedHash) return { kind: "invalid" };
  return { kind: "reused", session };
}
