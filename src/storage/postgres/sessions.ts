import { inArray, type SQL, sql, type WithSubquery } from "drizzle-orm";
import type { NodePgDatabase } from "drizzle-orm/node-postgres";
import { type Dialect, type OutboxWriter, SqlSessionRepository } from "../sql";
import { retryOnChainConflict } from "../sql/audit-chain";
import type { NewAuditEntry, NewSession, RotationAudit, Session } from "../types";
import { chainedInsert, queuedFromLogged } from "./audit-chain";
import { refreshTokens, sessions } from "./schema";

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

  async create(s: NewSession, audit?: NewAuditEntry): Promise<Session> {
    const row = this.newRow(s);
    // One statement with the chain's tail read inside it; it fails as a whole when another writer took
    // the entry's seq, and is retried (reading the new tail).
    await retryOnChainConflict(() => this.createOnce(row, audit));
    if (audit) this.outbox?.written();
    return row;
  }

  private async createOnce(row: Session, audit: NewAuditEntry | undefined): Promise<void> {
    const created = this.db.$with("created").as(this.db.insert(sessions).values(row).returning());
    const ctes: WithSubquery[] = [created];
    if (audit) {
      const { userId, ...entry } = audit;
      ctes.push(...this.chained(entry, sql`select ${userId}::text as user_id`));
    }
    await this.db
      .with(...ctes)
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
