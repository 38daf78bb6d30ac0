import { and, eq, inArray, sql } from "drizzle-orm";
import { type ChainedFields, chainAfter, chainOf } from "../../audit/chain";
import { type Dialect, SqlSessionRepository } from "../sql";
import { readChainTail, retryOnChainConflict } from "../sql/audit-chain";
import type { NewAuditEntry, NewSession, Session } from "../types";
import type { D1Batch } from ".";

/** Session writes that span tables, each one D1 batch: one round trip and one transaction. */
export class D1SessionRepository extends SqlSessionRepository {
  constructor(
    d: Dialect,
    private readonly batch: D1Batch,
  ) {
    super(d);
  }

  async create(s: NewSession, audit?: NewAuditEntry): Promise<Session> {
    const { db, t } = this.d;
    const row = this.newRow(s);
    // The whole batch fails when another writer took the entry's seq; it is retried from the new tail.
    await retryOnChainConflict(async () => {
      const chained = audit
        ? [
            db
              .insert(t.auditLog)
              .values({ ...audit, ...chainAfter(await readChainTail(this.d, chainOf(audit.userId)), audit) }),
          ]
        : [];
      await this.batch([
        db.insert(t.sessions).values(row),
        db.insert(t.refreshTokens).values({ tokenHash: s.refreshHash, sessionId: s.id, createdAt: s.now }),
        ...chained,
      ]);
    });
    return row;
  }

  protected async swapOnce(
    presentedHash: string,
    nextHash: string,
    now: Date,
    audit: (NewAuditEntry & ChainedFields) | undefined,
  ): Promise<Session | undefined> {
    const { db, t } = this.d;
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
              })
              .from(sessions)
              .where(and(ofOwner, sql`changes() = 1`)),
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
    const [swapped] = (await this.batch([this.swap(presentedHash, nextHash, now), ...logged, recorded])) as [
      Session[],
    ];
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
