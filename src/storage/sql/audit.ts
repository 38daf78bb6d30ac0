import { and, desc, eq, gte, inArray, lt, lte } from "drizzle-orm";
import { decodeCursor, toPage } from "../cursor";
import type { AuditEntry, AuditQuery, AuditRepository, NewAuditEntry, Page } from "../types";
import type { Dialect } from "./dialect";

export class SqlAuditRepository implements AuditRepository {
  constructor(private readonly d: Dialect) {}

  async append(entry: NewAuditEntry): Promise<void> {
    await this.d.db.insert(this.d.t.auditLog).values(entry);
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
    const { auditLog: a } = this.d.t;
    const rows = await this.d.db.delete(a).where(lt(a.createdAt, cutoff)).returning({ id: a.id });
    return rows.length;
  }
}
