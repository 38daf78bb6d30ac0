import { inArray, sql, type WithSubquery } from "drizzle-orm";
import type { NodePgDatabase } from "drizzle-orm/node-postgres";
import { type ChainedFields, chainAfter, chainOf } from "../../audit/chain";
import { type Dialect, SqlSessionRepository } from "../sql";
import { readChainTail, retryOnChainConflict } from "../sql/audit-chain";
import type { NewAuditEntry, NewSession, Session } from "../types";
import { auditLog, refreshTokens, sessions } from "./schema";

/**
 * Session writes that span tables, each one statement of data-modifying CTEs instead of a transaction:
 * the per-request client is shared by concurrent calls, and a BEGIN on it would swallow their statements.
 * Postgres runs every data-modifying CTE whether or not the main query reads it.
 */
export class PgSessionRepository extends SqlSessionRepository {
  constructor(
    d: Dialect,
    private readonly db: NodePgDatabase,
  ) {
    super(d);
  }

  async create(s: NewSession, audit?: NewAuditEntry): Promise<Session> {
    const row = this.newRow(s);
    // The statement fails as a whole when another writer took the entry's seq; retried from the new tail.
    await retryOnChainConflict(async () => {
      const chained = audit
        ? { ...audit, ...chainAfter(await readChainTail(this.d, chainOf(audit.userId)), audit) }
        : undefined;
      await this.createOnce(row, chained);
    });
    return row;
  }

  private async createOnce(row: Session, audit: (NewAuditEntry & ChainedFields) | undefined): Promise<void> {
    const created = this.db.$with("created").as(this.db.insert(sessions).values(row).returning());
    const logged = audit
      ? [this.db.$with("logged").as(this.db.insert(auditLog).values(audit).returning({ id: auditLog.id }))]
      : [];
    await this.db
      .with(created, ...logged)
      .insert(refreshTokens)
      .select(
        this.db
          .select({ tokenHash: created.currentHash, sessionId: created.id, createdAt: created.createdAt })
          .from(created),
      );
  }

  protected async swapOnce(
    presentedHash: string,
    nextHash: string,
    now: Date,
    audit: (NewAuditEntry & ChainedFields) | undefined,
  ): Promise<Session | undefined> {
    // Of concurrent callers presenting the same current token, one UPDATE matches (the others re-check
    // the row after the winner commits and see current_hash changed). The new hash and the audit entry
    // are written from the UPDATE's RETURNING, so they exist only if this swap won.
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
    if (audit) {
      ctes.push(
        this.db.$with("logged").as(
          this.db
            .insert(auditLog)
            .select(
              this.db
                .select({
                  id: sql<string>`${audit.id}::text`.as("id"),
                  userId: sql<string>`${audit.userId}::text`.as("user_id"),
                  action: sql<string>`${audit.action}::text`.as("action"),
                  ip: sql<string | null>`${audit.ip}::text`.as("ip"),
                  userAgent: sql<string | null>`${audit.userAgent}::text`.as("user_agent"),
                  createdAt: sql<Date>`${audit.createdAt.toISOString()}::timestamptz`.as("created_at"),
                  metadata: sql<Record<string, unknown>>`${JSON.stringify(audit.metadata)}::jsonb`.as(
                    "metadata",
                  ),
                  chain: sql<string>`${audit.chain}::text`.as("chain"),
                  seq: sql<number>`${audit.seq}::integer`.as("seq"),
                  prevHash: sql<string>`${audit.prevHash}::text`.as("prev_hash"),
                  hash: sql<string>`${audit.hash}::text`.as("hash"),
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
