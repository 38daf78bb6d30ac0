import { inArray, lt, sql } from "drizzle-orm";
import type { CounterRepository, CounterValue } from "../types";
import { deleteBatch } from "./bounded-delete";
import type { Dialect } from "./dialect";

export class SqlCounterRepository implements CounterRepository {
  constructor(private readonly d: Dialect) {}

  async increment(key: string, windowMs: number, now: Date): Promise<CounterValue> {
    const { counters } = this.d.t;
    const over = sql`${counters.resetAt} <= ${this.d.timestamp(now)}`;
    // One upsert: concurrent hits serialise on the row (lock or write), and each sees the previous count.
    const [row] = await this.d.db
      .insert(counters)
      .values({ key, count: 1, resetAt: new Date(now.getTime() + windowMs) })
      .onConflictDoUpdate({
        target: counters.key,
        set: {
          count: sql`case when ${over} then 1 else ${counters.count} + 1 end`,
          resetAt: sql`case when ${over} then excluded.reset_at else ${counters.resetAt} end`,
        },
      })
      .returning({ count: counters.count, resetAt: counters.resetAt });
    if (!row) throw new Error("counter upsert returned no row");
    return row;
  }

  async reset(...keys: string[]): Promise<void> {
    if (keys.length === 0) return;
    const { counters } = this.d.t;
    await this.d.db.delete(counters).where(inArray(counters.key, keys));
  }

  async deleteExpiredBefore(cutoff: Date, limit: number): Promise<number> {
    const { counters } = this.d.t;
    return deleteBatch(this.d.db, counters, counters.key, lt(counters.resetAt, cutoff), limit);
  }
}
