import { and, eq, gt, isNull, lt } from "drizzle-orm";
import type { NodePgDatabase } from "drizzle-orm/node-postgres";
import type { ConsumedToken, NewOneTimeToken, TokenPurpose, TokenRepository } from "../types";
import { oneTimeTokens } from "./schema";

/** Unconsumed, unexpired, of this purpose: the only tokens that count. */
function live(purpose: TokenPurpose, tokenHash: string, now: Date) {
  return and(
    eq(oneTimeTokens.tokenHash, tokenHash),
    eq(oneTimeTokens.purpose, purpose),
    isNull(oneTimeTokens.consumedAt),
    gt(oneTimeTokens.expiresAt, now),
  );
}

export class PgTokenRepository implements TokenRepository {
  constructor(private readonly db: NodePgDatabase) {}

  async create(t: NewOneTimeToken): Promise<void> {
    await this.db.insert(oneTimeTokens).values({
      tokenHash: t.tokenHash,
      purpose: t.purpose,
      userId: t.userId,
      data: t.data ?? null,
      createdAt: t.now,
      expiresAt: t.expiresAt,
    });
  }

  async consume(purpose: TokenPurpose, tokenHash: string, now: Date): Promise<ConsumedToken | null> {
    const rows = await this.db
      .update(oneTimeTokens)
      .set({ consumedAt: now })
      .where(live(purpose, tokenHash, now))
      .returning({ userId: oneTimeTokens.userId, data: oneTimeTokens.data });
    const row = rows[0];
    return row ? { userId: row.userId, data: row.data ?? null } : null;
  }

  async peek(purpose: TokenPurpose, tokenHash: string, now: Date): Promise<ConsumedToken | null> {
    const rows = await this.db
      .select({ userId: oneTimeTokens.userId, data: oneTimeTokens.data })
      .from(oneTimeTokens)
      .where(live(purpose, tokenHash, now))
      .limit(1);
    const row = rows[0];
    return row ? { userId: row.userId, data: row.data ?? null } : null;
  }

  async invalidateForUser(userId: string, purpose: TokenPurpose, now: Date): Promise<void> {
    await this.db
      .update(oneTimeTokens)
      .set({ consumedAt: now })
      .where(
        and(
          eq(oneTimeTokens.userId, userId),
          eq(oneTimeTokens.purpose, purpose),
          isNull(oneTimeTokens.consumedAt),
        ),
      );
  }

  async deleteExpiredBefore(cutoff: Date): Promise<number> {
    const rows = await this.db
      .delete(oneTimeTokens)
      .where(lt(oneTimeTokens.expiresAt, cutoff))
      .returning({ h: oneTimeTokens.tokenHash });
    return rows.length;
  }
}
