import { and, count, eq, inArray, isNotNull, isNull, lt, notInArray, or, sql } from "drizzle-orm";
import type { NodePgDatabase } from "drizzle-orm/node-postgres";
import { liveCounters } from "../counters";
import type {
  CounterRepository,
  CounterValue,
  OAuthAccount,
  OAuthAccountRepository,
  OAuthProviderName,
  TwoFactorRepository,
  TwoFactorState,
} from "../types";
import { counters, oauthAccounts, recoveryCodes, users } from "./schema";

export class PgOAuthAccountRepository implements OAuthAccountRepository {
  constructor(private readonly db: NodePgDatabase) {}

  async find(provider: OAuthProviderName, providerUserId: string): Promise<OAuthAccount | null> {
    const [row] = await this.db
      .select()
      .from(oauthAccounts)
      .where(and(eq(oauthAccounts.provider, provider), eq(oauthAccounts.providerUserId, providerUserId)))
      .limit(1);
    return row ? { ...row, provider: row.provider as OAuthProviderName } : null;
  }

  async link(a: OAuthAccount): Promise<boolean> {
    const rows = await this.db
      .insert(oauthAccounts)
      .values(a)
      .onConflictDoNothing()
      .returning({ p: oauthAccounts.provider });
    return rows.length === 1;
  }

  async listForUser(userId: string): Promise<OAuthAccount[]> {
    const rows = await this.db.select().from(oauthAccounts).where(eq(oauthAccounts.userId, userId));
    return rows.map((r) => ({ ...r, provider: r.provider as OAuthProviderName }));
  }
}

export class PgTwoFactorRepository implements TwoFactorRepository {
  constructor(private readonly db: NodePgDatabase) {}

  async get(userId: string): Promise<TwoFactorState | null> {
    const [row] = await this.db
      .select({
        secretEnc: users.totpSecretEnc,
        pendingSecretEnc: users.totpPendingEnc,
        lastStep: users.totpLastStep,
      })
      .from(users)
      .where(eq(users.id, userId))
      .limit(1);
    return row ?? null;
  }

  async setPending(userId: string, pendingSecretEnc: string, now: Date): Promise<void> {
    await this.db
      .update(users)
      .set({ totpPendingEnc: pendingSecretEnc, updatedAt: now })
      .where(eq(users.id, userId));
  }

  async enable(
    userId: string,
    pendingSecretEnc: string,
    step: number,
    recoveryCodeHashes: string[],
    now: Date,
  ): Promise<boolean> {
    // One statement: the codes are replaced only if the conditional UPDATE won, and never half-way.
    const enabled = this.db.$with("enabled").as(
      this.db
        .update(users)
        .set({ totpSecretEnc: pendingSecretEnc, totpPendingEnc: null, totpLastStep: step, updatedAt: now })
        .where(
          and(eq(users.id, userId), eq(users.totpPendingEnc, pendingSecretEnc), isNull(users.totpSecretEnc)),
        )
        .returning({ id: users.id }),
    );
    const rows = await this.db
      .with(
        enabled,
        ...this.#replaceCodes(sql`(select ${enabled.id} from ${enabled})`, recoveryCodeHashes, now),
      )
      .select({ id: enabled.id })
      .from(enabled);
    return rows.length === 1;
  }

  async disable(userId: string, now: Date): Promise<void> {
    const cleared = this.db
      .$with("cleared")
      .as(
        this.db
          .update(users)
          .set({ totpSecretEnc: null, totpPendingEnc: null, totpLastStep: null, updatedAt: now })
          .where(eq(users.id, userId))
          .returning({ id: users.id }),
      );
    const dropped = this.db
      .$with("dropped")
      .as(
        this.db
          .delete(recoveryCodes)
          .where(eq(recoveryCodes.userId, userId))
          .returning({ u: recoveryCodes.userId }),
      );
    await this.db.with(cleared, dropped).select({ id: cleared.id }).from(cleared);
  }

  async acceptStep(userId: string, step: number): Promise<boolean> {
    const rows = await this.db
      .update(users)
      .set({ totpLastStep: step })
      .where(
        and(
          eq(users.id, userId),
          isNotNull(users.totpSecretEnc),
          or(isNull(users.totpLastStep), lt(users.totpLastStep, step)),
        ),
      )
      .returning({ id: users.id });
    return rows.length === 1;
  }

  async replaceRecoveryCodes(userId: string, codeHashes: string[], now: Date): Promise<void> {
    const [removed, added] = this.#replaceCodes(sql`${userId}`, codeHashes, now);
    await this.db.with(removed, added).select({ n: count() }).from(added);
  }

  async consumeRecoveryCode(userId: string, codeHash: string, now: Date): Promise<boolean> {
    const rows = await this.db
      .update(recoveryCodes)
      .set({ usedAt: now })
      .where(
        and(
          eq(recoveryCodes.userId, userId),
          eq(recoveryCodes.codeHash, codeHash),
          isNull(recoveryCodes.usedAt),
        ),
      )
      .returning({ u: recoveryCodes.userId });
    return rows.length === 1;
  }

  async countRecoveryCodes(userId: string): Promise<number> {
    const [row] = await this.db
      .select({ n: count() })
      .from(recoveryCodes)
      .where(and(eq(recoveryCodes.userId, userId), isNull(recoveryCodes.usedAt)));
    return row?.n ?? 0;
  }

  /**
   * CTEs that make the user's codes exactly `codeHashes`, all unused. Sub-statements of one statement
   * run against one snapshot in no set order, so the DELETE spares the codes being (re)inserted and the
   * INSERT upserts, instead of relying on delete-then-insert ordering.
   */
  #replaceCodes(owner: ReturnType<typeof sql>, codeHashes: string[], now: Date) {
    const removed = this.db.$with("removed").as(
      this.db
        .delete(recoveryCodes)
        .where(
          and(
            sql`${recoveryCodes.userId} in (${owner})`,
            codeHashes.length > 0 ? notInArray(recoveryCodes.codeHash, codeHashes) : undefined,
          ),
        )
        .returning({ u: recoveryCodes.userId }),
    );
    const added = this.db.$with("added").as(
      this.db
        .insert(recoveryCodes)
        .select(
          sql`select o.id, c.code_hash, ${now.toISOString()}::timestamptz, null::timestamptz
              from (select (${owner})::text as id) o
              cross join unnest(${sql.param(codeHashes)}::text[]) as c(code_hash)
              where o.id is not null`,
        )
        .onConflictDoUpdate({
          target: [recoveryCodes.userId, recoveryCodes.codeHash],
          set: { usedAt: null, createdAt: now },
        })
        .returning({ u: recoveryCodes.userId }),
    );
    return [removed, added] as const;
  }
}

/** The rows of the named counters, expired or not (liveCounters sorts that out); batchable on D1. */
export function selectCounters(db: NodePgDatabase, keys: readonly string[]) {
  return db
    .select({ key: counters.key, count: counters.count, resetAt: counters.resetAt })
    .from(counters)
    .where(inArray(counters.key, [...keys]));
}

export class PgCounterRepository implements CounterRepository {
  constructor(private readonly db: NodePgDatabase) {}

  async increment(key: string, windowMs: number, now: Date): Promise<CounterValue> {
    const resetAt = new Date(now.getTime() + windowMs);
    // One upsert: concurrent hits serialise on the row lock, and each sees the previous one's count.
    const rows = await this.db
      .insert(counters)
      .values({ key, count: 1, resetAt })
      .onConflictDoUpdate({
        target: counters.key,
        set: {
          count: sql`case when ${counters.resetAt} <= ${now.toISOString()}::timestamptz then 1 else ${counters.count} + 1 end`,
          resetAt: sql`case when ${counters.resetAt} <= ${now.toISOString()}::timestamptz then excluded.reset_at else ${counters.resetAt} end`,
        },
      })
      .returning({ count: counters.count, resetAt: counters.resetAt });
    const row = rows[0];
    if (!row) throw new Error("counter upsert returned no row");
    return row;
  }

  async get(key: string, now: Date): Promise<CounterValue | null> {
    const [row] = await this.db
      .select({ count: counters.count, resetAt: counters.resetAt })
      .from(counters)
      .where(eq(counters.key, key))
      .limit(1);
    if (!row || row.resetAt.getTime() <= now.getTime()) return null;
    return row;
  }

  async getMany(keys: readonly string[], now: Date): Promise<(CounterValue | null)[]> {
    return liveCounters(keys, await selectCounters(this.db, keys), now);
  }

  async reset(...keys: string[]): Promise<void> {
    if (keys.length === 0) return;
    await this.db.delete(counters).where(inArray(counters.key, keys));
  }

  async deleteExpiredBefore(cutoff: Date): Promise<number> {
    const rows = await this.db
      .delete(counters)
      .where(lt(counters.resetAt, cutoff))
      .returning({ k: counters.key });
    return rows.length;
  }
}
