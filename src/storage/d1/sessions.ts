import { and, eq, inArray, sql } from "drizzle-orm";
import type { DrizzleD1Database } from "drizzle-orm/d1";
import { type Dialect, SqlSessionRepository } from "../sql";
import type { NewAuditEntry, NewSession, RotationAudit, Session } from "../types";
import { auditLog, refreshTokens, sessions } from "./schema";

type Batch = Parameters<DrizzleD1Database["batch"]>[0];

/** Session writes that span tables, each one D1 batch: one round trip and one transaction. */
export class D1SessionRepository extends SqlSessionRepository {
  constructor(
    d: Dialect,
    private readonly db: DrizzleD1Database,
  ) {
    super(d);
  }

  async create(s: NewSession, audit?: NewAuditEntry): Promise<Session> {
    const row = this.newRow(s);
    await this.db.batch([
      this.db.insert(sessions).values(row),
      this.db.insert(refreshTokens).values({ tokenHash: s.refreshHash, sessionId: s.id, createdAt: s.now }),
      ...(audit ? [this.db.insert(auditLog).values(audit)] : []),
    ]);
    return row;
  }

  protected async swapAndRecord(
    presentedHash: string,
    nextHash: string,
    now: Date,
    audit?: RotationAudit,
  ): Promise<Session | undefined> {
    const ofOwner = this.owner(presentedHash);
    // After the swap, in the same transaction: the audit entry only if the swap changed the row (SQLite's
    // changes() still reports the UPDATE while the next statement runs), then the new hash into the
    // history (the successor is derived from the presented token, so a loser sees the same next hash; ON
    // CONFLICT makes that harmless).
    const logged = audit
      ? [
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
        ]
      : [];
    const recorded = this.db
      .insert(refreshTokens)
      .select(
        this.db
          .select({ tokenHash: sessions.currentHash, sessionId: sessions.id, createdAt: sessions.rotatedAt })
          .from(sessions)
          .where(and(ofOwner, eq(sessions.currentHash, nextHash))),
      )
      .onConflictDoNothing();
    const [swapped] = (await this.db.batch([
      this.swap(presentedHash, nextHash, now),
      ...logged,
      recorded,
    ] as unknown as Batch)) as unknown as [Session[]];
    return swapped[0];
  }

  async deleteEndedBefore(cutoff: Date): Promise<number> {
    const ended = this.db.select({ id: sessions.id }).from(sessions).where(this.endedBefore(cutoff));
    // The history rows first, then their sessions, in one batch (one transaction).
    const [, deleted] = await this.db.batch([
      this.db.delete(refreshTokens).where(inArray(refreshTokens.sessionId, ended)),
      this.db.delete(sessions).where(this.endedBefore(cutoff)).returning({ id: sessions.id }),
    ] as unknown as Batch);
    return (deleted as unknown as unknown[]).length;
  }
}
