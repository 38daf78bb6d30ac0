import { and, count, eq, inArray, isNotNull, isNull, lt, or, sql } from "drizzle-orm";
import type { DrizzleD1Database } from "drizzle-orm/d1";
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

export class D1OAuthAccountRepository implements OAuthAccountRepository {
  constructor(private readonly db: DrizzleD1Database) {}

  async find(provider: OAuthProviderName, providerUserId: string): Promise<OAuthAccount | null> {
    const row = await this.db
      .select()
      .from(oauthAccounts)
      .where(and(eq(oauthAccounts.provider, provider), eq(oauthAccounts.providerUserId, providerUserId)))
      .get();
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
    const rows = await this.db.select().from(oauthAccounts).where(eq(oauthAccounts.userId, userId)).all();
    return rows.map((r) => ({ ...r, provider: r.provider as OAuthProviderName }));
  }
}

export class D1TwoFactorRepository implements TwoFactorRepository {
  constructor(private readonly db: DrizzleD1Database) {}

  async get(userId: string): Promise<TwoFactorState | null> {
    const row = await this.db
      .select({
        secretEnc: users.totpSecretEnc,
        pendingSecretEnc: users.totpPendingEnc,
        lastStep: users.totpLastStep,
      })
      .from(users)
      .where(eq(users.id, userId))
      .get();
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
    const rows = await this.db
      .update(users)
      .set({ totpSecretEnc: pendingSecretEnc, totpPendingEnc: null, totpLastStep: step, updatedAt: now })
      .where(
        and(eq(users.id, userId), eq(users.totpPendingEnc, pendingSecretEnc), isNull(users.totpSecretEnc)),
      )
      .returning({ id: users.id });
    if (rows.length !== 1) return false;
    await this.replaceRecoveryCodes(userId, recoveryCodeHashes, now);
    return true;
  }

  async disable(userId: string, now: Date): Promise<void> {
    await this.db.batch([
      this.db
        .update(users)
        .set({ totpSecretEnc: null, totpPendingEnc: null, totpLastStep: null, updatedAt: now })
        .where(eq(users.id, userId)),
      this.db.delete(recoveryCodes).where(eq(recoveryCodes.userId, userId)),
    ]);
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
    await this.db.batch([
      this.db.delete(recoveryCodes).where(eq(recoveryCodes.userId, userId)),
      ...codeHashes.map((codeHash) =>
        this.db.insert(recoveryCodes).values({ userId, codeHash, createdAt: now }),
      ),
    ]);
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
    const row = await this.db
      .select({ n: count() })
      .from(recoveryCodes)
      .where(and(eq(recoveryCodes.userId, userId), isNull(recoveryCodes.usedAt)))
      .get();
    return row?.n ?? 0;
  }
}

/** The rows of the named counters, expired or not (liveCounters sorts that out); batchable on D1. */
export function selectCounters(db: DrizzleD1Database, keys: readonly string[]) {
  return db
    .select({ key: counters.key, count: counters.count, resetAt: counters.resetAt })
    .from(counters)
    .where(inArray(counters.key, [...keys]));
}

export class D1CounterRepository implements CounterRepository {
  constructor(private readonly db: DrizzleD1Database) {}

  async increment(key: string, windowMs: number, now: Date): Promise<CounterValue> {
    const resetAt = new Date(now.getTime() + windowMs);
    const nowMs = now.getTime();
    const rows = await this.db
      .insert(counters)
      .values({ key, count: 1, resetAt })
      .onConflictDoUpdate({
        target: counters.key,
        set: {
          count: sql`case when ${counters.resetAt} <= ${nowMs} then 1 else ${counters.count} + 1 end`,
          resetAt: sql`case when ${counters.resetAt} <= ${nowMs} then excluded.reset_at else ${counters.resetAt} end`,
        },
      })
      .returning({ count: counters.count, resetAt: counters.resetAt });
    const row = rows[0];
    if (!row) throw new Error("counter upsert returned no row");
    return row;
  }

  async get(key: string, now: Date): Promise<CounterValue | null> {
    const row = await this.db
      .select({ count: counters.count, resetAt: counters.resetAt })
      .from(counters)
      .where(eq(counters.key, key))
      .get();
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
