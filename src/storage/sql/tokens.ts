import { and, eq, gt, isNull, lt } from "drizzle-orm";
import type { ConsumedToken, NewOneTimeToken, TokenPurpose, TokenRepository } from "../types";
import type { Dialect } from "./dialect";

export class SqlTokenRepository implements TokenRepository {
  constructor(private readonly d: Dialect) {}

  /** Unconsumed, unexpired, of this purpose: the only tokens that count. */
  #live(purpose: TokenPurpose, tokenHash: string, now: Date) {
    const { oneTimeTokens: t } = this.d.t;
    return and(
      eq(t.tokenHash, tokenHash),
      eq(t.purpose, purpose),
      isNull(t.consumedAt),
      gt(t.expiresAt, now),
    );
  }

  async create(token: NewOneTimeToken): Promise<void> {
    await this.d.db.insert(this.d.t.oneTimeTokens).values({
      tokenHash: token.tokenHash,
      purpose: token.purpose,
      userId: token.userId,
      data: token.data ?? null,
      createdAt: token.now,
      expiresAt: token.expiresAt,
    });
  }

  async consume(purpose: TokenPurpose, tokenHash: string, now: Date): Promise<ConsumedToken | null> {
    const { oneTimeTokens: t } = this.d.t;
    const [row] = await this.d.db
      .update(t)
      .set({ consumedAt: now })
      .where(this.#live(purpose, tokenHash, now))
      .returning({ userId: t.userId, data: t.data });
    return row ? { userId: row.userId, data: row.data ?? null } : null;
  }

  async peek(purpose: TokenPurpose, tokenHash: string, now: Date): Promise<ConsumedToken | null> {
    const { oneTimeTokens: t } = this.d.t;
    const [row] = await this.d.db
      .select({ userId: t.userId, data: t.data })
      .from(t)
      .where(this.#live(purpose, tokenHash, now))
      .limit(1);
    return row ? { userId: row.userId, data: row.data ?? null } : null;
  }

  async invalidateForUser(userId: string, purpose: TokenPurpose, now: Date): Promise<void> {
    const { oneTimeTokens: t } = this.d.t;
    await this.d.db
      .update(t)
      .set({ consumedAt: now })
      .where(and(eq(t.userId, userId), eq(t.purpose, purpose), isNull(t.consumedAt)));
  }

  async deleteExpiredBefore(cutoff: Date): Promise<number> {
    const { oneTimeTokens: t } = this.d.t;
    const rows = await this.d.db.delete(t).where(lt(t.expiresAt, cutoff)).returning({ h: t.tokenHash });
    return rows.length;
  }

  async spendLegacy(jti: string, userId: string, now: Date): Promise<boolean> {
    const { legacySpentTokens: t } = this.d.t;
    const rows = await this.d.db
      .insert(t)
      .values({ jti, userId, spentAt: now })
      .onConflictDoNothing()
      .returning({ jti: t.jti });
    return rows.length === 1;
  }

  async legacySpent(jti: string): Promise<boolean> {
    const { legacySpentTokens: t } = this.d.t;
    const rows = await this.d.db.select({ jti: t.jti }).from(t).where(eq(t.jti, jti)).limit(1);
    return rows.length === 1;
  }
}
