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
  webhookDeliveries: number;
}

/** Delivered webhook rows stay a week (what a receiver was sent, for "did you get it?"), then go. */
export const DELIVERED_WEBHOOK_KEEP_MS = 7 * DAY_MS;
/** Rows per delete statement, and statements per run: a backlog is worked off over several nights. */
const OUTBOX_BATCH = 1_000;
const OUTBOX_MAX_BATCHES = 100;

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
    webhookDeliveries: await deleteSettledDeliveries(db, config, now),
  };
}

/** Delivered rows after a week, failed ones with the audit entries they describe; in bounded batches. */
async function deleteSettledDeliveries(db: Database, config: Config, now: Date): Promise<number> {
  const delivered = new Date(now.getTime() - DELIVERED_WEBHOOK_KEEP_MS);
  const failed = new Date(now.getTime() - config.AUDIT_RETENTION_DAYS * DAY_MS);
  let total = 0;
  for (let i = 0; i < OUTBOX_MAX_BATCHES; i++) {
    const n = await db.webhooks.deleteSettledBefore(delivered, failed, OUTBOX_BATCH);
    total += n;
    if (n < OUTBOX_BATCH) break;
  }
  return total;
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
