import { and, desc, eq, gte, inArray, lt, lte, or, sql } from "drizzle-orm";
import type { NodePgDatabase } from "drizzle-orm/node-postgres";
import { decodeCursor, toPage } from "../cursor";
import type { AuditEntry, AuditQuery, AuditRepository, NewAuditEntry, Page } from "../types";
import { auditLog } from "./schema";
import { byteOrder } from "./users";

export class PgAuditRepository implements AuditRepository {
  constructor(private readonly db: NodePgDatabase) {}

  async append(e: NewAuditEntry): Promise<void> {
    await this.db.insert(auditLog).values(e);
  }

  async list(q: AuditQuery): Promise<Page<AuditEntry>> {
    const conds = [];
    if (q.userId) conds.push(eq(auditLog.userId, q.userId));
    if (q.actions && q.actions.length > 0) conds.push(inArray(auditLog.action, q.actions));
    if (q.since) conds.push(gte(auditLog.createdAt, q.since));
    if (q.until) conds.push(lte(auditLog.createdAt, q.until));
    if (q.cursor) {
      const c = decodeCursor(q.cursor);
      const at = new Date(c.createdAt);
      conds.push(
        or(
          lt(auditLog.createdAt, at),
          and(eq(auditLog.createdAt, at), sql`${byteOrder(auditLog.id)} < ${c.id}`),
        ),
      );
    }
    const rows = await this.db
      .select()
      .from(auditLog)
      .where(and(...conds))
      .orderBy(desc(auditLog.createdAt), desc(byteOrder(auditLog.id)))
      .limit(q.limit + 1);
    return toPage(rows, q.limit, (e) => ({ createdAt: e.createdAt.getTime(), id: e.id }));
  }

  async deleteOlderThan(cutoff: Date): Promise<number> {
    const rows = await this.db
      .delete(auditLog)
      .where(lt(auditLog.createdAt, cutoff))
      .returning({ id: auditLog.id });
    return rows.length;
  }
}
