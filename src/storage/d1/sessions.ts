import { and, desc, eq, gt, inArray, isNull, lt, ne, or, sql } from "drizzle-orm";
import type { DrizzleD1Database } from "drizzle-orm/d1";
import { classifyUnswapped } from "../rotation";
import type {
  NewAuditEntry,
  NewSession,
  RotateResult,
  RotationAudit,
  Session,
  SessionRepository,
} from "../types";
import { auditLog, refreshTokens, sessions } from "./schema";

export class D1SessionRepository implements SessionRepository {
  constructor(private readonly db: DrizzleD1Database) {}

  async create(s: NewSession, audit?: NewAuditEntry): Promise<Session> {
    const row: Session = {
      id: s.id,
      userId: s.userId,
      currentHash: s.refreshHash,
      previousHash: null,
      rotatedAt: null,
      createdAt: s.now,
      lastUsedAt: s.now,
      expiresAt: s.expiresAt,
      revokedAt: null,
      authenticatedAt: s.now,
      ip: s.ip,
      userAgent: s.userAgent,
    };
    const session = this.db.insert(sessions).values(row);
    const history = this.db
      .insert(refreshTokens)
      .values({ tokenHash: s.refreshHash, sessionId: s.id, createdAt: s.now });
    // One batch is one round trip and one transaction.
    if (audit) {
      const entry = this.db.insert(auditLog).values({ ...audit, metadata: JSON.stringify(audit.metadata) });
      await this.db.batch([session, history, entry]);
    } else {
      await this.db.batch([session, history]);
    }
    return row;
  }

  async findById(id: string): Promise<Session | null> {
    return (await this.db.select().from(sessions).where(eq(sessions.id, id)).get()) ?? null;
  }

  async findByRefreshHash(tokenHash: string): Promise<Session | null> {
    const found = await this.db
      .select({ session: sessions })
      .from(refreshTokens)
      .innerJoin(sessions, eq(sessions.id, refreshTokens.sessionId))
      .where(eq(refreshTokens.tokenHash, tokenHash))
      .get();
    return found?.session ?? null;
  }

  async rotate(
    presentedHash: string,
    nextHash: string,
    now: Date,
    graceMs: number,
    audit?: RotationAudit,
  ): Promise<RotateResult> {
    // The session that issued the presented token, found through the token history (its primary key).
    const owner = sql`(select ${refreshTokens.sessionId} from ${refreshTokens} where ${refreshTokens.tokenHash} = ${presentedHash})`;
    const ofOwner = sql`${sessions.id} = ${owner}`;
    // The compare-and-swap, in one batch (one round trip, one transaction): of concurrent callers
    // presenting the same current token, one UPDATE matches. The statements after it run in the same
    // transaction: the audit entry only if this UPDATE changed the row (SQLite's changes() still reports
    // the UPDATE while the next statement runs), the new hash into the history (the successor is derived
    // from the presented token, so a loser sees the same next hash; ON CONFLICT makes that harmless).
    const swap = this.db
      .update(sessions)
      .set({ currentHash: nextHash, previousHash: presentedHash, rotatedAt: now, lastUsedAt: now })
      .where(
        and(
          ofOwner,
          eq(sessions.currentHash, presentedHash),
          isNull(sessions.revokedAt),
          gt(sessions.expiresAt, now),
        ),
      )
      .returning();
    const record = this.db
      .insert(refreshTokens)
      .select(
        this.db
          .select({ tokenHash: sessions.currentHash, sessionId: sessions.id, createdAt: sessions.rotatedAt })
          .from(sessions)
          .where(and(ofOwner, eq(sessions.currentHash, nextHash))),
      )
      .onConflictDoNothing();
    const [swapped] = audit
      ? await this.db.batch([
          swap,
          this.db.insert(auditLog).select(
            this.db
              .select({
                id: sql<string>`${audit.id}`.as("id"),
                userId: sessions.userId,
                action: sql<string>`${audit.action}`.as("action"),
                ip: sql<string | null>`${audit.ip}`.as("ip"),
                userAgent: sql<string | null>`${audit.userAgent}`.as("user_agent"),
                createdAt: sql<number>`${audit.createdAt.getTime()}`.as("created_at"),
                metadata: sql<string>`${JSON.stringify(audit.metadata)}`.as("metadata"),
              })
              .from(sessions)
              .where(and(ofOwner, sql`changes() = 1`)),
          ),
          record,
        ])
      : await this.db.batch([swap, record]);
    const rotated = swapped[0];
    if (rotated) return { kind: "rotated", session: rotated };

    // No swap: find out why (only the grace, reuse and invalid answers pay for this second read).
    return classifyUnswapped(await this.findByRefreshHash(presentedHash), presentedHash, now, graceMs);
  }

  async listActive(userId: string, now: Date): Promise<Session[]> {
    return this.db
      .select()
      .from(sessions)
      .where(and(eq(sessions.userId, userId), isNull(sessions.revokedAt), gt(sessions.expiresAt, now)))
      .orderBy(desc(sessions.createdAt))
      .all();
  }

  async revoke(id: string, now: Date): Promise<boolean> {
    const rows = await this.db
      .update(sessions)
      .set({ revokedAt: now })
      .where(and(eq(sessions.id, id), isNull(sessions.revokedAt)))
      .returning({ id: sessions.id });
    return rows.length === 1;
  }

  async markAuthenticated(id: string, now: Date): Promise<boolean> {
    const rows = await this.db
      .update(sessions)
      .set({ authenticatedAt: now })
      .where(and(eq(sessions.id, id), isNull(sessions.revokedAt), gt(sessions.expiresAt, now)))
      .returning({ id: sessions.id });
    return rows.length === 1;
  }

  async revokeAllForUser(userId: string, now: Date, exceptId?: string): Promise<string[]> {
    const conds = [eq(sessions.userId, userId), isNull(sessions.revokedAt), gt(sessions.expiresAt, now)];
    if (exceptId) conds.push(ne(sessions.id, exceptId));
    const rows = await this.db
      .update(sessions)
      .set({ revokedAt: now })
      .where(and(...conds))
      .returning({ id: sessions.id });
    return rows.map((r) => r.id);
  }

  async deleteEndedBefore(cutoff: Date): Promise<number> {
    const ended = this.db
      .select({ id: sessions.id })
      .from(sessions)
      .where(or(lt(sessions.expiresAt, cutoff), lt(sessions.revokedAt, cutoff)));
    await this.db.delete(refreshTokens).where(inArray(refreshTokens.sessionId, ended));
    const rows = await this.db
      .delete(sessions)
      .where(or(lt(sessions.expiresAt, cutoff), lt(sessions.revokedAt, cutoff)))
      .returning({ id: sessions.id });
    return rows.length;
  }
}
