import { and, eq, isNull, lt, or, type SQL, sql } from "drizzle-orm";
import type { LoginThrottleRepository, ThrottleAdmission, ThrottlePolicy } from "../types";
import { deleteBatch } from "./bounded-delete";
import type { Dialect } from "./dialect";

export class SqlLoginThrottleRepository implements LoginThrottleRepository {
  constructor(private readonly d: Dialect) {}

  /** The lock an attempt numbered `attempts` sets, as a SQL expression; null below the threshold. */
  #lockFor(attempts: SQL, policy: ThrottlePolicy, nowMs: number): SQL {
    const at = (ms: number): SQL => this.d.timestamp(new Date(nowMs + ms));
    const steps = policy.locksMs
      .slice(0, -1)
      .map((ms, i) => sql` when ${attempts} = ${policy.threshold + i} then ${at(ms)}`);
    const last = policy.locksMs[policy.locksMs.length - 1] ?? 0;
    return sql`(case when ${attempts} < ${policy.threshold} then null${sql.join(steps)} else ${at(last)} end)`;
  }

  async admit(key: string, policy: ThrottlePolicy, now: Date): Promise<ThrottleAdmission> {
    const { loginThrottle } = this.d.t;
    const nowMs = now.getTime();
    const windowOver = sql`${loginThrottle.windowEndsAt} <= ${this.d.timestamp(now)}`;
    const attempts = sql`(case when ${windowOver} then 1 else ${loginThrottle.attempts} + 1 end)`;
    const first = policy.threshold <= 1 ? new Date(nowMs + (policy.locksMs[0] ?? 0)) : null;
    // The count and the refusal are one statement: the DO UPDATE's WHERE skips a locked row (no row
    // returned; concurrent upserts serialise on the row and each re-checks it), and the attempt that
    // reaches the threshold locks the row before it is evaluated.
    const rows = await this.d.db
      .insert(loginThrottle)
      .values({ key, attempts: 1, windowEndsAt: new Date(nowMs + policy.windowMs), lockedUntil: first })
      .onConflictDoUpdate({
        target: loginThrottle.key,
        set: {
          attempts,
          windowEndsAt: sql`case when ${windowOver} then excluded.window_ends_at else ${loginThrottle.windowEndsAt} end`,
          lockedUntil: this.#lockFor(attempts, policy, nowMs),
        },
        setWhere: or(
          isNull(loginThrottle.lockedUntil),
          sql`${loginThrottle.lockedUntil} <= ${this.d.timestamp(now)}`,
        ),
      })
      .returning({ attempts: loginThrottle.attempts, lockedUntil: loginThrottle.lockedUntil });
    const row = rows[0];
    if (row) return { admitted: true, attempts: row.attempts, lockedUntil: row.lockedUntil };
    // Refused: only now is the lock read, for Retry-After (a locked account's extra round trip).
    const [locked] = await this.d.db
      .select({ lockedUntil: loginThrottle.lockedUntil })
      .from(loginThrottle)
      .where(eq(loginThrottle.key, key))
      .limit(1);
    return { admitted: false, lockedUntil: locked?.lockedUntil ?? now };
  }

  async clear(key: string): Promise<void> {
    const { loginThrottle } = this.d.t;
    await this.d.db.delete(loginThrottle).where(eq(loginThrottle.key, key));
  }

  async deleteExpiredBefore(cutoff: Date, limit: number): Promise<number> {
    const { loginThrottle } = this.d.t;
    return deleteBatch(
      this.d.db,
      loginThrottle,
      loginThrottle.key,
      and(
        lt(loginThrottle.windowEndsAt, cutoff),
        or(isNull(loginThrottle.lockedUntil), lt(loginThrottle.lockedUntil, cutoff)),
      ),
      limit,
    );
  }
}
