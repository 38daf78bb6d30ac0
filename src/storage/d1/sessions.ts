import { and, eq, inArray, sql } from "drizzle-orm";
import { chainAfter, chainOf } from "../../audit/chain";
import { type Dialect, type OutboxWriter, SqlSessionRepository } from "../sql";
import { retryOnChainConflict, tailReads } from "../sql/audit-chain";
import type { NewAuditEntry, NewSession, PreparedTail, RotationAudit, Session } from "../types";
import type { D1Batch } from ".";

/** Session writes that span tables, each one D1 batch: one round trip and one transaction. */
export class D1SessionRepository extends SqlSessionRepository {
  constructor(
    d: Dialect,
    private readonly batch: D1Batch,
    outbox: OutboxWriter | null,
  ) {
    super(d, outbox);
  }

  async create(s: NewSession, audit?: NewAuditEntry, prepared?: PreparedTail): Promise<Session> {
    const { db, t } = this.d;
    const row = this.newRow(s);
    // The whole batch fails when another writer took the entry's seq; it is retried from the new tail.
    // With a prepared tail (read while the caller hashed the password), the first try reads nothing.
    const readTail = audit ? tailReads(this.d, chainOf(audit.userId), prepared) : undefined;
    await retryOnChainConflict(async () => {
      const entry = audit && readTail ? { ...audit, ...chainAfter(await readTail(), audit) } : undefined;
      const logged = entry ? [db.insert(t.auditLog).values(entry)] : [];
      const queued = entry && this.outbox ? [this.outbox.insert(entry)] : [];
      await this.batch([
        db.insert(t.sessions).values(row),
        db.insert(t.refreshTokens).values({ tokenHash: s.refreshHash, sessionId: s.id, createdAt: s.now }),
        ...logged,
        ...queued,
      ]);
    });
    if (audit) this.outbox?.written();
    return row;
  }

  protected async swapOnce(
    presentedHash: string,
    nextHash: string,
    now: Date,
    rotation: RotationAudit | undefined,
  ): Promise<Session | undefined> {
    const { db, t } = this.d;
    // SQLite cannot hash: the session's user and its chain's tail are read first (one statement), and
    // the batch below fails on audit_chain_seq_uq if another writer took the seq meanwhile.
    const audit = rotation ? await this.chainedRotationAudit(presentedHash, rotation) : undefined;
    const { sessions } = t;
    const ofOwner = this.owner(presentedHash);
    // After the swap, in the same transaction: the audit entry only if the swap changed the row (SQLite's
    // changes() still reports the UPDATE while the next statement runs), then the new hash into the
    // history (the successor is derived from the presented token, so a loser sees the same next hash; ON
    // CONFLICT makes that harmless).
    const logged = audit
      ? [
          db.insert(t.auditLog).select(
            db
              .select({
                id: sql<string>`${audit.id}`.as("id"),
                userId: sql<string>`${audit.userId}`.as("user_id"),
                action: sql<string>`${audit.action}`.as("action"),
                ip: sql<string | null>`${audit.ip}`.as("ip"),
                userAgent: sql<string | null>`${audit.userAgent}`.as("user_agent"),
                createdAt: sql<number>`${audit.createdAt.getTime()}`.as("created_at"),
                metadata: sql<string>`${JSON.stringify(audit.metadata)}`.as("metadata"),
                chain: sql<string>`${audit.chain}`.as("chain"),
                seq: sql<number>`${audit.seq}`.as("seq"),
                prevHash: sql<string>`${audit.prevHash}`.as("prev_hash"),
                hash: sql<string>`${audit.hash}`.as("hash"),
                personalSalt: sql<string | null>`${audit.personalSalt ?? null}`.as("personal_salt"),
                personalDigest: sql<string | null>`${audit.personalDigest ?? null}`.as("personal_digest"),
              })
              .from(sessions)
              .where(and(ofOwner, sql`changes() = 1`)),
          ),
        ]
      : [];
    // The delivery row only if the entry was written just now (by this batch, so this swap won).
    const queued =
      audit && this.outbox
        ? [
            db.insert(t.webhookOutbox).select(
              db
                .select(this.outbox.selectList(audit, (v) => sql`${v instanceof Date ? v.getTime() : v}`))
                .from(t.auditLog)
                .where(eq(t.auditLog.id, audit.id)),
            ),
          ]
        : [];
    const recorded = db
      .insert(t.refreshTokens)
      .select(
        db
          .select({ tokenHash: sessions.currentHash, sessionId: sessions.id, createdAt: sessions.rotatedAt })
          .from(sessions)
          .where(and(ofOwner, eq(sessions.currentHash, nextHash))),
      )
      .onConflictDoNothing();
    const [swapped] = (await this.batch([
      this.swap(presentedHash, nextHash, now),
      ...logged,
      ...queued,
      recorded,
    ])) as [Session[]];
    return swapped[0];
  }

  async deleteEndedBefore(cutoff: Date, limit: number): Promise<number> {
    const { db, t } = this.d;
    // The history rows first, then their sessions, in one batch (one transaction). Both statements
    // select the same batch: nothing changes the sessions table between them inside the transaction,
    // and were it to differ, the foreign key's cascade still takes a deleted session's history along.
    const [, deleted] = (await this.batch([
      db.delete(t.refreshTokens).where(inArray(t.refreshTokens.sessionId, this.endedBatch(cutoff, limit))),
      db
        .delete(t.sessions)
        .where(inArray(t.sessions.id, this.endedBatch(cutoff, limit)))
        .returning({ id: t.sessions.id }),
    ])) as [unknown, unknown[]];
    return deleted.length;
  }
}
