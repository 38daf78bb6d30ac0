import { and, desc, eq, gt, isNull, lt, ne, or, sql } from "drizzle-orm";
import { type ChainedFields, chainAfter, laterTail } from "../../audit/chain";
import type {
  NewAuditEntry,
  NewSession,
  PreparedTail,
  RotateResult,
  RotationAudit,
  Session,
  SessionRepository,
} from "../types";
import { asTail, retryOnChainConflict } from "./audit-chain";
import { batchOf } from "./bounded-delete";
import type { Dialect } from "./dialect";
import type { OutboxWriter } from "./outbox";
import { classifyUnswapped } from "./rotation";

/**
 * Reads and single-statement writes of sessions, shared. Creating a session (with its first history row
 * and the sign-in audit entry) and rotating its refresh token are atomic multi-table writes, so each
 * dialect writes them its own way (a D1 batch, a Postgres statement of data-modifying CTEs).
 */
export abstract class SqlSessionRepository implements SessionRepository {
  constructor(
    protected readonly d: Dialect,
    /** With a webhook: each audit entry's delivery row, written in the same atomic write as the entry. */
    protected readonly outbox: OutboxWriter | null,
  ) {}

  abstract create(session: NewSession, audit?: NewAuditEntry, prepared?: PreparedTail): Promise<Session>;
  abstract deleteEndedBefore(cutoff: Date, limit: number): Promise<number>;
  /**
   * One attempt at the swap with what must happen only if it won, atomically: the new hash into the token
   * history and, when given, the audit entry, chained to the session's user. Returns the rotated session,
   * or undefined when the swap did not match. A chain conflict throws, and `rotate` retries.
   */
  protected abstract swapOnce(
    presentedHash: string,
    nextHash: string,
    now: Date,
    audit: RotationAudit | undefined,
  ): Promise<Session | undefined>;

  async rotate(
    presentedHash: string,
    nextHash: string,
    now: Date,
    graceMs: number,
    audit?: RotationAudit,
  ): Promise<RotateResult> {
    const rotated = await retryOnChainConflict(() => this.swapOnce(presentedHash, nextHash, now, audit));
    if (rotated && audit) this.outbox?.written();
    if (rotated) return { kind: "rotated", session: rotated };
    // No swap: find out why (only the grace, reuse and invalid answers pay for this second read).
    return classifyUnswapped(await this.findByRefreshHash(presentedHash), presentedHash, now, graceMs);
  }

  async findById(id: string): Promise<Session | null> {
    const { sessions } = this.d.t;
    const [row] = await this.d.db.select().from(sessions).where(eq(sessions.id, id)).limit(1);
    return row ?? null;
  }

  async findByRefreshHash(tokenHash: string): Promise<Session | null> {
    const { sessions, refreshTokens } = this.d.t;
    const [found] = await this.d.db
      .select({ session: sessions })
      .from(refreshTokens)
      .innerJoin(sessions, eq(sessions.id, refreshTokens.sessionId))
      .where(eq(refreshTokens.tokenHash, tokenHash))
      .limit(1);
    return found?.session ?? null;
  }

  async listActive(userId: string, now: Date): Promise<Session[]> {
    const { sessions } = this.d.t;
    return this.d.db
      .select()
      .from(sessions)
      .where(and(eq(sessions.userId, userId), this.live(now)))
      .orderBy(desc(sessions.createdAt));
  }

  async revoke(id: string, now: Date): Promise<boolean> {
    const { sessions } = this.d.t;
    const rows = await this.d.db
      .update(sessions)
      .set({ revokedAt: now })
      .where(and(eq(sessions.id, id), isNull(sessions.revokedAt)))
      .returning({ id: sessions.id });
    return rows.length === 1;
  }

  async markAuthenticated(id: string, now: Date): Promise<boolean> {
    const { sessions } = this.d.t;
    const rows = await this.d.db
      .update(sessions)
      .set({ authenticatedAt: now })
      .where(and(eq(sessions.id, id), this.live(now)))
      .returning({ id: sessions.id });
    return rows.length === 1;
  }

  async revokeAllForUser(userId: string, now: Date, exceptId?: string): Promise<string[]> {
    const { sessions } = this.d.t;
    const rows = await this.d.db
      .update(sessions)
      .set({ revokedAt: now })
      .where(
        and(eq(sessions.userId, userId), this.live(now), exceptId ? ne(sessions.id, exceptId) : undefined),
      )
      .returning({ id: sessions.id });
    return rows.map((r) => r.id);
  }

  /** A live session: not revoked, not expired at `now`. */
  protected live(now: Date) {
    const { sessions } = this.d.t;
    return and(isNull(sessions.revokedAt), gt(sessions.expiresAt, now));
  }

  /** Sessions that ended (expired or were revoked) before `cutoff`: what retention drops. */
  protected endedBefore(cutoff: Date) {
    const { sessions } = this.d.t;
    // Both columns are indexed (sessions_expires_idx, sessions_revoked_idx), so the OR is two index
    // range scans on both backends, not a scan of every session each time the clean-up finds nothing.
    return or(lt(sessions.expiresAt, cutoff), lt(sessions.revokedAt, cutoff));
  }

  /** The ids of at most `limit` sessions that ended before `cutoff`: one clean-up batch. */
  protected endedBatch(cutoff: Date, limit: number) {
    const { sessions } = this.d.t;
    return batchOf(this.d.db, sessions, sessions.id, this.endedBefore(cutoff), limit);
  }

  /** The session that issued the presented token, found through the token history (its primary key). */
  protected owner(presentedHash: string) {
    const { sessions, refreshTokens: r } = this.d.t;
    return sql`${sessions.id} = (select ${r.sessionId} from ${r} where ${r.tokenHash} = ${presentedHash})`;
  }

  /**
   * The compare-and-swap of a rotation: of concurrent callers presenting the same current token, one
   * UPDATE matches; it returns the rotated session.
   */
  protected swap(presentedHash: string, nextHash: string, now: Date) {
    const { sessions } = this.d.t;
    return this.d.db
      .update(sessions)
      .set({ currentHash: nextHash, previousHash: presentedHash, rotatedAt: now, lastUsedAt: now })
      .where(and(this.owner(presentedHash), eq(sessions.currentHash, presentedHash), this.live(now)))
      .returning();
  }

  /**
   * (D1, which cannot hash in SQL.) The rotation's audit entry, chained: the presented token's session gives the user (and so the
   * chain), read with that chain's tail in one statement. Undefined when no session issued the token
   * (the swap cannot match then, and nothing is logged).
   */
  protected async chainedRotationAudit(
    presentedHash: string,
    audit: RotationAudit,
  ): Promise<(NewAuditEntry & ChainedFields) | undefined> {
    const { sessions, auditLog: a, auditAnchors: an } = this.d.t;
    const [row] = await this.d.db
      .select({ userId: sessions.userId, seq: a.seq, hash: a.hash, anchorSeq: an.seq, anchorHash: an.hash })
      .from(sessions)
      .leftJoin(an, eq(an.chain, sessions.userId))
      .leftJoin(a, eq(a.chain, sessions.userId))
      .where(this.owner(presentedHash))
      .orderBy(sql`${a.seq} desc nulls last`)
      .limit(1);
    if (!row) return undefined;
    const entry = { ...audit, userId: row.userId };
    const tail = laterTail(asTail(row), asTail({ seq: row.anchorSeq, hash: row.anchorHash }));
    return { ...entry, ...chainAfter(tail, entry) };
  }

  /** The row a new session starts as. */
  protected newRow(s: NewSession): Session {
    return {
      id: s.id,
      userId: s.userId,
      currentHash: s.refreshHash,
      previousHash: null,
      rotatedAt: null,
      createdAt: s.now,
      lastUsedAt: s.now,
      expiresAt: s.expiresAt,
      revokedAt: null,
      authenticatedAt: s.authenticatedAt === undefined ? s.now : s.authenticatedAt,
      ip: s.ip,
      userAgent: s.userAgent,
    };
  }
}
