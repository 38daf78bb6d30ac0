import { type Config, getConfig } from "../config";
import type { Env } from "../env";
import { openDatabase } from "../storage";
import type { Database } from "../storage/types";

const DAY_MS = 24 * 60 * 60 * 1000;
/** Ended sessions stay a week so "why was I signed out?" can still be answered from /auth/sessions data. */
export const ENDED_SESSION_GRACE_MS = 7 * DAY_MS;

// Each statement deletes a bounded batch, so one statement stays far below this; it is the backstop.
const RETENTION_QUERY_TIMEOUT_MS = 60 * 1000;

/**
 * How much one run may delete. A backlog of millions (a first run, a long outage of the cron) is
 * drained by successive runs instead of one statement that outlives D1's 30 s per query or a Worker's
 * limit of queries per invocation (50 on the free plan, 1,000 paid).
 */
export interface RetentionLimits {
  /** Rows one DELETE may remove (sessions: sessions, each with its refresh-token history). */
  batchRows: number;
  /** Statements one run may send for the expiry clean-up (the audit's retention comes on top). */
  maxStatements: number;
}

/**
 * 40 statements leave room under the free plan's 50 queries for the audit retention; 5,000 rows a
 * statement is a fraction of a second of SQLite work. A run drains up to 200,000 expired rows, and the
 * hourly cron about 4.8 million a day.
 */
export const DEFAULT_RETENTION_LIMITS: RetentionLimits = { batchRows: 5_000, maxStatements: 40 };

export interface RetentionResult {
  auditEntries: number;
  sessions: number;
  oneTimeTokens: number;
  counters: number;
  passkeyChallenges: number;
  webhookDeliveries: number;
  /** Statements the expiry clean-up sent (at most `maxStatements`). */
  statements: number;
  /** False when the budget ran out before every kind was drained: the next run continues. */
  drained: boolean;
}

type ExpiryKind = "sessions" | "oneTimeTokens" | "counters" | "passkeyChallenges" | "webhookDeliveries";

interface Sweep {
  kind: ExpiryKind;
  /** Statements one batch costs (D1 deletes a session batch's history in a second statement). */
  cost: number;
  batch(limit: number): Promise<number>;
}

/** Delivered webhook rows stay a week (what a receiver was sent, for "did you get it?"), then go. */
export const DELIVERED_WEBHOOK_KEEP_MS = 7 * DAY_MS;

/**
 * Deletes what is past its retention: audit entries older than AUDIT_RETENTION_DAYS, sessions that ended
 * (expired or revoked) over a week ago, expired one-time tokens, counters and passkey challenges. The only code path
 * that deletes audit entries; no route does. The expiry clean-up goes round-robin, one bounded batch per
 * kind per round, so a huge backlog of one kind does not starve the others of the run's budget.
 */
export async function applyRetention(
  db: Database,
  config: Config,
  now: Date,
  limits: RetentionLimits = DEFAULT_RETENTION_LIMITS,
): Promise<RetentionResult> {
  const at = now.getTime();
  const sessionsCutoff = new Date(at - ENDED_SESSION_GRACE_MS);
  const auditEntries = await db.audit.deleteOlderThan(new Date(at - config.AUDIT_RETENTION_DAYS * DAY_MS));
  let pending: Sweep[] = [
    {
      kind: "sessions",
      cost: db.kind === "d1" ? 2 : 1,
      batch: (n) => db.sessions.deleteEndedBefore(sessionsCutoff, n),
    },
    { kind: "oneTimeTokens", cost: 1, batch: (n) => db.tokens.deleteExpiredBefore(now, n) },
    { kind: "counters", cost: 1, batch: (n) => db.counters.deleteExpiredBefore(now, n) },
    // The login throttle's rows are counters too (their window and lock both over).
    { kind: "counters", cost: 1, batch: (n) => db.loginThrottle.deleteExpiredBefore(now, n) },
    { kind: "passkeyChallenges", cost: 1, batch: (n) => db.passkeyChallenges.deleteExpiredBefore(now, n) },
    // Settled webhook deliveries: delivered ones after a week, failed ones with the entries they describe.
    {
      kind: "webhookDeliveries",
      cost: 1,
      batch: (n) =>
        db.webhooks.deleteSettledBefore(
          new Date(at - DELIVERED_WEBHOOK_KEEP_MS),
          new Date(at - config.AUDIT_RETENTION_DAYS * DAY_MS),
          n,
        ),
    },
  ];
  const deleted: Record<ExpiryKind, number> = {
    sessions: 0,
    oneTimeTokens: 0,
    counters: 0,
    passkeyChallenges: 0,
    webhookDeliveries: 0,
  };
  let statements = 0;
  while (pending.length > 0 && statements + Math.min(...pending.map((s) => s.cost)) <= limits.maxStatements) {
    const next: Sweep[] = [];
    for (const sweep of pending) {
      if (statements + sweep.cost > limits.maxStatements) {
        next.push(sweep);
        continue;
      }
      const n = await sweep.batch(limits.batchRows);
      statements += sweep.cost;
      deleted[sweep.kind] += n;
      // A short batch means nothing of this kind is left (as of this statement).
      if (n >= limits.batchRows) next.push(sweep);
    }
    pending = next;
  }
  return { auditEntries, ...deleted, statements, drained: pending.length === 0 };
}

/** The cron entry point (wrangler.toml [triggers]); `scheduledTime` is the clock, so runs are reproducible. */
export async function runScheduledRetention(env: Env, scheduledTime: number): Promise<RetentionResult> {
  const config = getConfig(env);
  const db = openDatabase(config, env, { queryTimeoutMs: RETENTION_QUERY_TIMEOUT_MS });
  try {
    const result = await applyRetention(db, config, new Date(scheduledTime));
    // `drained: false` is expected while a backlog lasts; the next hourly run continues it.
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
