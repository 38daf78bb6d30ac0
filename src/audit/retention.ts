import { type Config, getConfig } from "../config";
import type { Env } from "../env";
import { openDatabase } from "../storage";
import type { Database } from "../storage/types";

const DAY_MS = 24 * 60 * 60 * 1000;
/** Ended sessions stay a week so "why was I signed out?" can still be answered from /auth/sessions data. */
export const ENDED_SESSION_GRACE_MS = 7 * DAY_MS;

const RETENTION_QUERY_TIMEOUT_MS = 5 * 60 * 1000;

export interface RetentionResult {
  auditEntries: number;
  sessions: number;
  oneTimeTokens: number;
  counters: number;
  passkeyChallenges: number;
}

/**
 * Deletes what is past its retention: audit entries older than AUDIT_RETENTION_DAYS, sessions that ended
 * (expired or revoked) over a week ago, expired one-time tokens, counters and passkey challenges. The only code path
 * that deletes audit entries; no route does.
 */
export async function applyRetention(db: Database, config: Config, now: Date): Promise<RetentionResult> {
  const at = now.getTime();
  return {
    auditEntries: await db.audit.deleteOlderThan(new Date(at - config.AUDIT_RETENTION_DAYS * DAY_MS)),
    sessions: await db.sessions.deleteEndedBefore(new Date(at - ENDED_SESSION_GRACE_MS)),
    oneTimeTokens: await db.tokens.deleteExpiredBefore(now),
    // The login throttle's rows are counters too (their window and lock both over).
    counters:
      (await db.counters.deleteExpiredBefore(now)) + (await db.loginThrottle.deleteExpiredBefore(now)),
    passkeyChallenges: await db.passkeyChallenges.deleteExpiredBefore(now),
  };
}

/** The cron entry point (wrangler.toml [triggers]); `scheduledTime` is the clock, so runs are reproducible. */
export async function runScheduledRetention(env: Env, scheduledTime: number): Promise<RetentionResult> {
  const config = getConfig(env);
  // A first run over a large backlog deletes in big statements; a Cron Trigger may run for 15 minutes.
  const db = openDatabase(config, env, { queryTimeoutMs: RETENTION_QUERY_TIMEOUT_MS });
  try {
    const result = await applyRetention(db, config, new Date(scheduledTime));
    console.log(JSON.stringify({ level: "info", msg: "retention done", ...result }));
    return result;
  } catch (err) {
    // Loud on purpose, then rethrown so the Cron Trigger shows as failed.
    console.error(JSON.stringify({ level: "error", msg: "retention failed", error: String(err) }));
    throw err;
  } finally {
    await db.close();
  }
}
