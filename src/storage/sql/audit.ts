import {
  and,
  asc,
  desc,
  eq,
  gt,
  gte,
  inArray,
  isNotNull,
  isNull,
  lt,
  lte,
  max,
  min,
  or,
  sql,
} from "drizzle-orm";
import { chainAfter, chainOf } from "../../audit/chain";
import { decodeCursor, toPage } from "../cursor";
import type {
  AuditAnchor,
  AuditEntry,
  AuditQuery,
  AuditRepository,
  ChainEnd,
  NewAuditEntry,
  Page,
  PreparedTail,
} from "../types";
import { readChainTail, retryOnChainConflict, tailReads } from "./audit-chain";
import type { Dialect } from "./dialect";
import type { OutboxWriter } from "./outbox";

export class SqlAuditRepository implements AuditRepository {
  constructor(
    private readonly d: Dialect,
    private readonly outbox: OutboxWriter | null,
  ) {}

  async prepare(userId: string | null): Promise<ChainEnd | null> {
    // Both backends: a sign-in's session write with a tail in hand is plain values (hashed in JS), which
    // D1 needs (SQLite cannot hash) and Postgres plans much faster than the statement that hashes.
    return readChainTail(this.d, chainOf(userId));
  }

  async append(entry: NewAuditEntry, prepared?: PreparedTail): Promise<void> {
    const inOneStatement = this.d.appendChained;
    if (inOneStatement) {
      await retryOnChainConflict(() => inOneStatement(entry, this.outbox !== null));
      this.outbox?.written();
      return;
    }
    const readTail = tailReads(this.d, chainOf(entry.userId), prepared);
    await retryOnChainConflict(async () => {
      const tail = await readTail();
      const chained = { ...entry, ...chainAfter(tail, entry) };
      const logged = this.d.db.insert(this.d.t.auditLog).values(chained);
      // With a webhook, the delivery row lands with the entry or not at all (never send-and-hope).
      if (this.outbox) await this.d.writeTogether([logged, this.outbox.insert(chained)]);
      else await logged;
    });
    this.outbox?.written();
  }

  async list(q: AuditQuery): Promise<Page<AuditEntry>> {
    const { auditLog: a } = this.d.t;
    const conds = [];
    if (q.userId) conds.push(eq(a.userId, q.userId));
    if (q.actions && q.actions.length > 0) conds.push(inArray(a.action, q.actions));
    if (q.since) conds.push(gte(a.createdAt, q.since));
    if (q.until) conds.push(lte(a.createdAt, q.until));
    if (q.cursor) conds.push(this.d.before(a.createdAt, a.id, decodeCursor(q.cursor)));
    const rows = await this.d.db
      .select()
      .from(a)
      .where(and(...conds))
      .orderBy(desc(a.createdAt), desc(this.d.byteOrder(a.id)))
      .limit(q.limit + 1);
    return toPage(rows, q.limit, (e) => ({ createdAt: e.createdAt.getTime(), id: e.id }));
  }

  async deleteOlderThan(cutoff: Date): Promise<number> {
    const { db, t } = this.d;
    const { auditLog: a, auditAnchors: an } = t;
    // Per chain, the newest entry older than the cutoff becomes the anchor; everything up to its seq
    // goes (by seq, not by time: clocks of concurrent writers may disagree with the chain's order).
    // Anchor first, then delete: a crash in between leaves rows at or below the anchor, which
    // verification skips and the next run deletes.
    const boundary = db
      .select({ chain: a.chain, seq: max(a.seq).as("boundary_seq") })
      .from(a)
      .where(and(lt(a.createdAt, cutoff), isNotNull(a.chain)))
      .groupBy(a.chain)
      .as("boundary");
    await db
      .insert(an)
      .select(
        db
          .select({
            chain: sql<string>`${a.chain}`.as("chain"),
            seq: sql<number>`${a.seq}`.as("seq"),
            hash: sql<string>`${a.hash}`.as("hash"),
          })
          .from(a)
          .innerJoin(boundary, and(eq(a.chain, boundary.chain), eq(a.seq, boundary.seq)))
          // WHERE before ON CONFLICT: SQLite would otherwise read ON as part of the join.
          .where(isNotNull(a.hash)),
      )
      .onConflictDoUpdate({
        target: an.chain,
        set: { seq: sql`excluded.seq`, hash: sql`excluded.hash` },
        setWhere: sql`excluded.seq > ${an.seq}`,
      });
    const anchored = db.select({ seq: an.seq }).from(an).where(eq(an.chain, a.chain));
    const rows = await db
      .delete(a)
      .where(
        or(
          sql`${a.seq} <= (${anchored})`,
          // Rows from before chaining existed have no chain: plain age.
          and(isNull(a.chain), lt(a.createdAt, cutoff)),
        ),
      )
      .returning({ id: a.id });
    return rows.length;
  }

  async chains(after: string | null, limit: number): Promise<string[]> {
    const { auditLog: a } = this.d.t;
    const rows = await this.d.db
      .select({ chain: a.chain })
      .from(a)
      .where(and(isNotNull(a.chain), after === null ? undefined : gt(this.d.byteOrder(a.chain), after)))
      .groupBy(a.chain)
      .orderBy(asc(this.d.byteOrder(a.chain)))
      .limit(limit);
    return rows.map((r) => r.chain ?? "");
  }

  async chainPage(chain: string, afterSeq: number, limit: number): Promise<AuditEntry[]> {
    const { auditLog: a } = this.d.t;
    return this.d.db
      .select()
      .from(a)
      .where(and(eq(a.chain, chain), gt(a.seq, afterSeq)))
      .orderBy(asc(a.seq))
      .limit(limit);
  }

  async anchor(chain: string): Promise<AuditAnchor | null> {
    const { auditAnchors: an } = this.d.t;
    const [row] = await this.d.db
      .select({ seq: an.seq, hash: an.hash })
      .from(an)
      .where(eq(an.chain, chain))
      .limit(1);
    return row ?? null;
  }

  async findUnchained(chain: string | null): Promise<string | null> {
    const { auditLog: a } = this.d.t;
    const ofChain = (c: string) => or(eq(a.chain, c), c === "" ? isNull(a.userId) : eq(a.userId, c));
    const oldestChained = this.d.db
      .select({ at: min(a.createdAt) })
      .from(a)
      .where(and(isNotNull(a.hash), chain === null ? undefined : eq(a.chain, chain)));
    const [row] = await this.d.db
      .select({ id: a.id })
      .from(a)
      .where(
        and(
          or(isNull(a.hash), isNull(a.seq), isNull(a.chain), isNull(a.prevHash)),
          chain === null ? undefined : ofChain(chain),
          sql`${a.createdAt} >= (${oldestChained})`,
        ),
      )
      .limit(1);
    return row?.id ?? null;
  }
}
