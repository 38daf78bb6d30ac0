import {
  and,
  type Column,
  desc,
  eq,
  getTableColumns,
  inArray,
  isNull,
  lte,
  or,
  type SQL,
  sql,
} from "drizzle-orm";
import type { ChainedFields } from "../../audit/chain";
import { DELIVERY_WINDOW_MS } from "../../events/policy";
import { decodeCursor, toPage } from "../cursor";
import type {
  AuditEntry,
  DeliverySettlement,
  NewAuditEntry,
  OutboxOptions,
  Page,
  WebhookDelivery,
  WebhookDeliveryQuery,
  WebhookOutboxRepository,
} from "../types";
import type { Dialect, Tables } from "./dialect";

/** An entry as written: chained, so its seq orders its user's deliveries. */
export type ChainedEntry = NewAuditEntry & ChainedFields;

/**
 * Writes an entry's delivery row next to the entry, in the same atomic write (the audit repository and
 * the session writes call it). Present only when WEBHOOK_URL is set: without a webhook nothing is written.
 */
export class OutboxWriter {
  constructor(
    private readonly d: Dialect,
    private readonly options: OutboxOptions,
  ) {}

  /** The new row: due at once, given up on 24 h after the event. */
  row(entry: ChainedEntry): typeof this.d.t.webhookOutbox.$inferInsert {
    return {
      id: entry.id,
      userId: entry.userId,
      seq: entry.seq,
      status: "pending",
      attempts: 0,
      nextAttemptAt: entry.createdAt,
      giveUpAt: new Date(entry.createdAt.getTime() + DELIVERY_WINDOW_MS),
      createdAt: entry.createdAt,
    };
  }

  insert(entry: ChainedEntry) {
    return this.d.db.insert(this.d.t.webhookOutbox).values(this.row(entry));
  }

  /**
   * The row as a select list of bound values, every column in table order (what INSERT … SELECT takes),
   * for writes where the row must exist only if another statement's row does. `literal` binds one value
   * as the dialect needs it (Postgres wants a cast on an untyped parameter, D1 epoch ms for a time).
   */
  selectList(
    entry: ChainedEntry,
    literal: (value: unknown, column: Column) => SQL,
  ): Record<keyof Tables["webhookOutbox"]["$inferSelect"], SQL.Aliased> {
    const row: Record<string, unknown> = this.row(entry);
    const out = {} as Record<string, SQL.Aliased>;
    for (const [key, column] of Object.entries(getTableColumns(this.d.t.webhookOutbox))) {
      out[key] = literal(row[key] ?? null, column).as(column.name);
    }
    return out as Record<keyof Tables["webhookOutbox"]["$inferSelect"], SQL.Aliased>;
  }

  /** After the write committed: lets the caller wake a deliverer (the queue producer). */
  written(): void {
    this.options.onWrite?.();
  }
}

export class SqlWebhookOutboxRepository implements WebhookOutboxRepository {
  constructor(private readonly d: Dialect) {}

  /** Not leased, or its deliverer's lease ran out (a crashed deliverer: the row goes out again). */
  private leaseFree(now: Date) {
    const { webhookOutbox: o } = this.d.t;
    return or(isNull(o.leaseUntil), lte(o.leaseUntil, now));
  }

  async claim(leaseToken: string, now: Date, leaseMs: number, limit: number): Promise<WebhookDelivery[]> {
    const { db, t } = this.d;
    const o = t.webhookOutbox;
    const at = this.d.timestamp(now);
    // The candidates: due, free, and the earliest pending row of their user (rows without a user are
    // not ordered among themselves). Aliased raw SQL: the same text on both dialects.
    const due = sql`select c.id from ${o} c
      where c.status = 'pending' and c.next_attempt_at <= ${at}
        and (c.lease_until is null or c.lease_until <= ${at})
        and not exists (select 1 from ${o} e
          where e.user_id = c.user_id and e.seq < c.seq and e.status = 'pending')
      order by c.next_attempt_at, c.created_at limit ${limit}`;
    // The lease condition again on the row itself: a concurrent claimer that took the row first (Postgres
    // re-checks it after waiting for that claimer's row lock) leaves nothing for this one.
    const rows = await db
      .update(o)
      .set({
        leaseUntil: new Date(now.getTime() + leaseMs),
        leaseToken,
        attempts: sql`${o.attempts} + 1`,
      })
      .where(and(sql`${o.id} in (${due})`, eq(o.status, "pending"), this.leaseFree(now)))
      .returning();
    return rows.map(strip);
  }

  async entries(ids: string[]): Promise<AuditEntry[]> {
    if (ids.length === 0) return [];
    const { auditLog: a } = this.d.t;
    return this.d.db.select().from(a).where(inArray(a.id, ids));
  }

  async settle(id: string, leaseToken: string, outcome: DeliverySettlement): Promise<boolean> {
    const o = this.d.t.webhookOutbox;
    const base = { leaseUntil: null, leaseToken: null, lastStatus: outcome.httpStatus };
    const set =
      outcome.status === "delivered"
        ? { ...base, status: "delivered" as const, deliveredAt: outcome.at, lastError: null }
        : outcome.status === "pending"
          ? {
              ...base,
              status: "pending" as const,
              nextAttemptAt: outcome.nextAttemptAt,
              lastError: outcome.error,
            }
          : { ...base, status: "failed" as const, lastError: outcome.error };
    const rows = await this.d.db
      .update(o)
      .set(set)
      .where(and(eq(o.id, id), eq(o.leaseToken, leaseToken)))
      .returning({ id: o.id });
    return rows.length === 1;
  }

  async list(q: WebhookDeliveryQuery): Promise<Page<WebhookDelivery & { action: string | null }>> {
    const { webhookOutbox: o, auditLog: a } = this.d.t;
    const rows = await this.d.db
      .select({ delivery: o, action: a.action })
      .from(o)
      .leftJoin(a, eq(a.id, o.id))
      .where(
        and(
          q.status ? eq(o.status, q.status) : inArray(o.status, ["pending", "failed"]),
          q.cursor ? this.d.before(o.createdAt, o.id, decodeCursor(q.cursor)) : undefined,
        ),
      )
      .orderBy(desc(o.createdAt), desc(this.d.byteOrder(o.id)))
      .limit(q.limit + 1);
    return toPage(
      rows.map((r) => ({ ...strip(r.delivery), action: r.action })),
      q.limit,
      (d) => ({ createdAt: d.createdAt.getTime(), id: d.id }),
    );
  }

  async find(id: string): Promise<WebhookDelivery | null> {
    const o = this.d.t.webhookOutbox;
    const [row] = await this.d.db.select().from(o).where(eq(o.id, id)).limit(1);
    return row ? strip(row) : null;
  }

  async retry(id: string, now: Date, giveUpAt: Date): Promise<WebhookDelivery | null> {
    const o = this.d.t.webhookOutbox;
    const [row] = await this.d.db
      .update(o)
      .set({ status: "pending", nextAttemptAt: now, giveUpAt, leaseUntil: null, leaseToken: null })
      .where(and(eq(o.id, id), or(eq(o.status, "failed"), and(eq(o.status, "pending"), this.leaseFree(now)))))
      .returning();
    return row ? strip(row) : null;
  }

  async deleteSettledBefore(cutoff: Date, failedCutoff: Date, limit: number): Promise<number> {
    const o = this.d.t.webhookOutbox;
    // Bounded: one statement never deletes more than `limit` rows, so a backlog does not hold a long lock.
    const batch = this.d.db
      .select({ id: o.id })
      .from(o)
      .where(
        or(
          and(eq(o.status, "delivered"), lte(o.deliveredAt, cutoff)),
          and(eq(o.status, "failed"), lte(o.createdAt, failedCutoff)),
        ),
      )
      .limit(limit);
    const rows = await this.d.db.delete(o).where(inArray(o.id, batch)).returning({ id: o.id });
    return rows.length;
  }
}

/** The row without its lease (an implementation detail of the deliverers; the lease token is a capability). */
function strip(row: WebhookDelivery & { leaseUntil?: unknown; leaseToken?: unknown }): WebhookDelivery {
  const { leaseUntil: _until, leaseToken: _token, ...delivery } = row;
  return delivery;
}
