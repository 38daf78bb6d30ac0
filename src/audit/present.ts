import { z } from "@hono/zod-openapi";
import type { AuditEntry, Page } from "../storage/types";

export const AuditEntrySchema = z
  .object({
    id: z.string(),
    user_id: z.string().nullable(),
    action: z.string(),
    ip: z.string().nullable(),
    user_agent: z.string().nullable(),
    created_at: z.string().openapi({ example: "2026-11-25T08:00:00.000Z" }),
    metadata: z.record(z.string(), z.unknown()),
  })
  .openapi("AuditEntry");

export const AuditPageSchema = z
  .object({ items: z.array(AuditEntrySchema), next_cursor: z.string().nullable() })
  .openapi("AuditPage");

export type AuditEntryJson = z.infer<typeof AuditEntrySchema>;
export type AuditPageJson = z.infer<typeof AuditPageSchema>;

export function presentAuditEntry(e: AuditEntry): AuditEntryJson {
  return {
    id: e.id,
    user_id: e.userId,
    action: e.action,
    ip: e.ip,
    user_agent: e.userAgent,
    created_at: e.createdAt.toISOString(),
    metadata: e.metadata,
  };
}

/** One keyset page of the log (next_cursor is null on the last page). */
export function presentAuditPage(page: Page<AuditEntry>): AuditPageJson {
  return { items: page.items.map(presentAuditEntry), next_cursor: page.nextCursor };
}
