import { and, desc, eq, gt, inArray, isNull, lt, ne, or } from "drizzle-orm";
import type { DrizzleD1Database } from "drizzle-orm/d1";
import type { NewAuditEntry, NewSession, RotateResult, Session, SessionRepository } from "../types";
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

  async rotate(presentedHash: string, nextHash: string, now: Date, graceMs: number): Promise<RotateResult> {
    const found = await this.db
      .select({ session: sessions })
      .from(refreshTokens)
      .innerJoin(sessions, eq(sessions.id, refreshTokens.sessionId))
      .where(eq(refreshTokens.tokenHash, presentedHash))
      .get();
    if (!found) return { kind: "invalid" };
    const s = found.session;
    if (s.revokedAt !== null || s.expiresAt.getTime() <= now.getTime()) return { kind: "invalid" };

    // The compare-and-swap: of concurrent callers presenting the same current token, one UPDATE matches.
    const [updated] = await this.db.batch([
      this.db
        .update(sessions)
        .set({ currentHash: nextHash, previousHash: presentedHash, rotatedAt: now, lastUsedAt: now })
        .where(
          and(eq(sessions.id, s.id), eq(sessions.currentHash, presentedHash), isNull(sessions.revokedAt)),
        )
        .returning(),
      // Inserted only if the UPDATE above won (the same batch runs as one transaction).
      this.db
        .insert(refreshTokens)
        .select(
          this.db
            .select({
              tokenHash: sessions.currentHash,
              sessionId: sessions.id,
              createdAt: sessions.rotatedAt,
            })
            .from(sessions)
            .where(and(eq(sessions.id, s.id), eq(sessions.currentHash, nextHash))),
        )
        .onConflictDoNothing(),
    ]);
    const rotated = updated[0];
    if (rotated) return { kind: "rotated", session: rotated };

    const fresh = await this.findById(s.id);
    if (!fresh || fresh.revokedAt !== null) return { kind: "invalid" };
    if (
      fresh.previousHash === presentedHash &&
      fresh.rotatedAt !== null &&
      now.getTime() - fresh.rotatedAt.getTime() <= graceMs
    ) {
      return { kind: "grace", session: fresh };
    }
    return { kind: "reused", session: fresh };
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
