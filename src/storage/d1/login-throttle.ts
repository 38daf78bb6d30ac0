import { and, eq, isNull, lt, or, type SQL, sql } from "drizzle-orm";
import type { DrizzleD1Database } from "drizzle-orm/d1";
import type { LoginThrottleRepository, ThrottleAdmission, ThrottlePolicy } from "../types";
import { loginThrottle } from "./schema";

/** The lock (epoch ms) an attempt numbered `attempts` sets, as a SQL expression; null below the threshold. */
function lockFor(attempts: SQL, policy: ThrottlePolicy, nowMs: number): SQL {
  const steps = policy.locksMs
    .slice(0, -1)
    .map((ms, i) => sql` when ${attempts} = ${policy.threshold + i} then ${nowMs + ms}`);
  const last = policy.locksMs[policy.locksMs.length - 1] ?? 0;
  return sql`(case when ${attempts} < ${policy.threshold} then null${sql.join(steps)} else ${nowMs + last} end)`;
}

export class D1LoginThrottleRepository implements LoginThrottleRepository {
  constructor(private readonly db: DrizzleD1Database) {}

  async admit(key: string, policy: ThrottlePolicy, now: Date): Promise<ThrottleAdmission> {
    const nowMs = now.getTime();
    const windowOver = sql`${loginThrottle.windowEndsAt} <= ${nowMs}`;
    const attempts = sql`(case when ${windowOver} then 1 else ${loginThrottle.attempts} + 1 end)`;
    const first = policy.threshold <= 1 ? new Date(nowMs + (policy.locksMs[0] ?? 0)) : null;
    // The count and the refusal are one statement: the DO UPDATE's WHERE skips a locked row (no row
    // returned), and the attempt that reaches the threshold locks the row before it is evaluated.
    const rows = await this.db
      .insert(loginThrottle)
      .values({ key, attempts: 1, windowEndsAt: new Date(nowMs + policy.windowMs), lockedUntil: first })
      .onConflictDoUpdate({
        target: loginThrottle.key,
        set: {
          attempts,
          windowEndsAt: sql`case when ${windowOver} then excluded.window_ends_at else ${loginThrottle.windowEndsAt} end`,
          lockedUntil: lockFor(attempts, policy, nowMs),
        },
        setWhere: or(isNull(loginThrottle.lockedUntil), sql`${loginThrottle.lockedUntil} <= ${nowMs}`),
      })
      .returning({ attempts: loginThrottle.attempts, lockedUntil: loginThrottle.lockedUntil });
    const row = rows[0];
    if (row) return { admitted: true, attempts: row.attempts, lockedUntil: row.lockedUntil };
    // Refused: only now is the lock read, for Retry-After (a locked account's extra round trip).
    const locked = await this.db
      .select({ lockedUntil: loginThrottle.lockedUntil })
      .from(loginThrottle)
      .where(eq(loginThrottle.key, key))
      .get();
    return { admitted: false, lockedUntil: locked?.lockedUntil ?? now };
  }

  async clear(key: string): Promise<void> {
    await this.db.delete(loginThrottle).where(eq(loginThrottle.key, key));
  }

  async deleteExpiredBefore(cutoff: Date): Promise<number> {
    const rows = await this.db
      .delete(loginThrottle)
      .where(
        and(
          lt(loginThrottle.windowEndsAt, cutoff),
          or(isNull(loginThrottle.lockedUntil), lt(loginThrottle.lockedUntil, cutoff)),
        ),
      )
      .returning({ k: loginThrottle.key });
    return rows.length;
  }
}
