import { inArray, type SQL, sql, type WithSubquery } from "drizzle-orm";
import type { NodePgDatabase } from "drizzle-orm/node-postgres";
import { chainAfter, chainOf } from "../../audit/chain";
import { type Dialect, type OutboxWriter, SqlSessionRepository } from "../sql";
import { isChainConflict, retryOnChainConflict } from "../sql/audit-chain";
import type { ChainedEntry } from "../sql/outbox";
import type { NewAuditEntry, NewSession, PreparedTail, RotationAudit, Session } from "../types";
import { chainedInsert, queuedFromLogged } from "./audit-chain";
import { auditLog, refreshTokens, sessions, webhookOutbox } from "./schema";

/**
 * Session writes that span tables, each one statement of data-modifying CTEs instead of a transaction:
 * the per-request client is shared by concurrent calls, and a BEGIN on it would swallow their statements.
 * Postgres runs every data-modifying CTE whether or not the main query reads it.
 */
export class PgSessionRepository extends SqlSessionRepository {
  constructor(
    d: Dialect,
    private readonly db: NodePgDatabase,
    outbox: OutboxWriter | null,
  ) {
    super(d, outbox);
  }

  async create(s: NewSession, audit?: NewAuditEntry, prepared?: PreparedTail): Promise<Session> {
    const row = this.newRow(s);
    // With a tail read ahead (a sign-in reads it while the password hashes), the first try is plain
    // values hashed here: on a fresh backend (one per Worker request without a pool) the statement
    // that reads the tail and hashes in SQL costs ~4 ms more to parse and plan, and ~1 ms more on a
    // warm one (bench/README.md, issue 19). A stale tail loses on audit_chain_seq_uq like any racer.
    const ahead = audit && prepared?.chain === chainOf(audit.userId) ? await prepared.tail : null;
    if (audit && ahead) {
      try {
        await this.createLinked(row, { ...audit, ...chainAfter(ahead, audit) });
        this.outbox?.written();
        return row;
      } catch (err) {
        if (!isChainConflict(err)) throw err;
      }
    }
    // One statement with the chain's tail read inside it; it fails as a whole when another writer took
    // the entry's seq, and is retried (reading the new tail).
    await retryOnChainConflict(() => this.createOnce(row, audit));
    if (audit) this.outbox?.written();
    return row;
  }

  /** Session, first history row, the entry chained after a known tail and its outbox row: one statement. */
  private createLinked(row: Session, entry: ChainedEntry): Promise<void> {
    const ctes: WithSubquery[] = [
      this.db.$with("logged").as(this.db.insert(auditLog).values(entry).returning({ id: auditLog.id })),
    ];
    if (this.outbox) {
      const queued = this.db.insert(webhookOutbox).values(this.outbox.row(entry));
      ctes.push(this.db.$with("queued").as(queued.returning({ id: webhookOutbox.id })));
    }
    return this.insertSession(row, ctes);
  }

  private createOnce(row: Session, audit: NewAuditEntry | undefined): Promise<void> {
    if (!audit) return this.insertSession(row, []);
    const { userId, ...entry } = audit;
    return this.insertSession(row, this.chained(entry, sql`select ${userId}::text as user_id`));
  }

  /** The session and its first refresh-token history row, with `ctes` (the audit writes) in the same statement. */
  private async insertSession(row: Session, ctes: WithSubquery[]): Promise<void> {
    const created = this.db.$with("created").as(this.db.insert(sessions).values(row).returning());
    await this.db
      .with(created, ...ctes)
      .insert(refreshTokens)
      .select(
        this.db
          .select({ tokenHash: created.currentHash, sessionId: created.id, createdAt: created.createdAt })
          .from(created),
      );
  }

  /** The chained entry (hashed by Postgres after its tail) and, with a webhook, its outbox row. */
  private chained(entry: RotationAudit, source: SQL): WithSubquery[] {
    const logged = this.db.$with("logged", { id: sql<string>`id` }).as(chainedInsert(entry, source));
    if (!this.outbox) return [logged];
    return [
      logged,
      this.db.$with("queued", { id: sql<string>`id` }).as(sql`${queuedFromLogged()} returning id`),
    ];
  }

  protected async swapOnce(
    presentedHash: string,
    nextHash: string,
    now: Date,
    audit: RotationAudit | undefined,
  ): Promise<Session | undefined> {
    // Of concurrent callers presenting the same current token, one UPDATE matches (the others re-check
    // the row after the winner commits and see current_hash changed). The new hash and the audit entry
    // (chained to the session's user, read from the UPDATE's RETURNING with the chain's tail in the same
    // statement) are written only if this swap won.
    const swapped = this.db.$with("swapped").as(this.swap(presentedHash, nextHash, now));
    const ctes: WithSubquery[] = [
      swapped,
      this.db.$with("recorded").as(
        this.db
          .insert(refreshTokens)
          .select(
            this.db
              .select({
                tokenHash: swapped.currentHash,
                sessionId: swapped.id,
                createdAt: swapped.lastUsedAt,
              })
              .from(swapped),
          )
          .onConflictDoNothing()
          .returning({ tokenHash: refreshTokens.tokenHash }),
      ),
    ];
    if (audit) ctes.push(...this.chained(audit, sql`select user_id from swapped`));
    const [rotated] = await this.db
      .with(...ctes)
      .select()
      .from(swapped);
    return rotated;
  }

  async deleteEndedBefore(cutoff: Date, limit: number): Promise<number> {
    // refresh_tokens go with their session (ON DELETE CASCADE).
    const rows = await this.db
      .delete(sessions)
      .where(inArray(sessions.id, this.endedBatch(cutoff, limit)))
      .returning({ id: sessions.id });
    return rows.length;
  }
}
