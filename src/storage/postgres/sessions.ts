import { and, desc, eq, gt, isNull, lt, ne, or, sql, type WithSubquery } from "drizzle-orm";
import type { NodePgDatabase } from "drizzle-orm/node-postgres";
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

export class PgSessionRepository implements SessionRepository {
  constructor(private readonly db: NodePgDatabase) {}

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
    // One statement (a data-modifying CTE) instead of a transaction: the per-request client is shared by
    // concurrent calls, and a BEGIN on it would swallow their statements into this transaction.
    // The audit entry, when given, is one more data-modifying CTE of the same statement: Postgres runs
    // every one of them whether or not the main query reads it.
    const created = this.db.$with("created").as(this.db.insert(sessions).values(row).returning());
    const ctes = audit
      ? [
          created,
          this.db.$with("logged").as(this.db.insert(auditLog).values(audit).returning({ id: auditLog.id })),
        ]
      : [created];
    await this.db
      .with(...ctes)
      .insert(refreshTokens)
      .select(
        this.db
          .select({ tokenHash: created.currentHash, sessionId: created.id, createdAt: created.createdAt })
          .from(created),
      );
    return row;
  }

  async findById(id: string): Promise<Session | null> {
    const [row] = await this.db.select().from(sessions).where(eq(sessions.id, id)).limit(1);
    return row ?? null;
  }

  async findByRefreshHash(tokenHash: string): Promise<Session | null> {
    const [found] = await this.db
      .select({ session: sessions })
      .from(refreshTokens)
      .innerJoin(sessions, eq(sessions.id, refreshTokens.sessionId))
      .where(eq(refreshTokens.tokenHash, tokenHash))
      .limit(1);
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
    // The compare-and-swap, in one statement (one round trip): of concurrent callers presenting the same
    // current token, one UPDATE matches (the others re-check the row after the winner commits and see
    // current_hash changed). The new hash and the audit entry are written from the UPDATE's RETURNING,
    // so they exist only if this swap won.
    const swapped = this.db.$with("swapped").as(
      this.db
        .update(sessions)
        .set({ currentHash: nextHash, previousHash: presentedHash, rotatedAt: now, lastUsedAt: now })
        .where(
          and(
            sql`${sessions.id} = ${owner}`,
            eq(sessions.currentHash, presentedHash),
            isNull(sessions.revokedAt),
            gt(sessions.expiresAt, now),
          ),
        )
        .returning(),
    );
    const recorded = this.db.$with("recorded").as(
      this.db
        .insert(refreshTokens)
        .select(
          this.db
            .select({ tokenHash: swapped.currentHash, sessionId: swapped.id, createdAt: swapped.lastUsedAt })
            .from(swapped),
        )
        .onConflictDoNothing()
        .returning({ tokenHash: refreshTokens.tokenHash }),
    );
    const ctes: WithSubquery[] = [swapped, recorded];
    if (audit) {
      ctes.push(
        this.db.$with("logged").as(
          this.db
            .insert(auditLog)
            .select(
              this.db
                .select({
                  id: sql<string>`${audit.id}::text`.as("id"),
                  userId: swapped.userId,
                  action: sql<string>`${audit.action}::text`.as("action"),
                  ip: sql<string | null>`${audit.ip}::text`.as("ip"),
                  userAgent: sql<string | null>`${audit.userAgent}::text`.as("user_agent"),
                  createdAt: sql<Date>`${audit.createdAt.toISOString()}::timestamptz`.as("created_at"),
                  metadata: sql<Record<string, unknown>>`${JSON.stringify(audit.metadata)}::jsonb`.as(
                    "metadata",
                  ),
                })
                .from(swapped),
            )
            .returning({ id: auditLog.id }),
        ),
      );
    }
    const [rotated] = await this.db
      .with(...ctes)
      .select()
      .from(swapped);
    if (rotated) return { kind: "rotated", session: rotated };

    // No swap: find out why (only the grace, reuse and invalid answers pay for this second read).
    return classifyUnswapped(await this.findByRefreshHash(presentedHash), presentedHash, now, graceMs);
  }

  async listActive(userId: string, now: Date): Promise<Session[]> {
    return this.db
      .select()
      .from(sessions)
      .where(and(eq(sessions.userId, userId), isNull(sessions.revokedAt), gt(sessions.expiresAt, now)))
      .orderBy(desc(sessions.createdAt));
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
    // refresh_tokens go with their session (ON DELETE CASCADE).
    const rows = await this.db
      .delete(sessions)
      .where(or(lt(sessions.expiresAt, cutoff), lt(sessions.revokedAt, cutoff)))
      .returning({ id: sessions.id });
    return rows.length;
  }
}
