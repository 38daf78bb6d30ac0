import { z } from "@hono/zod-openapi";
import type { AuditEntry, Page } from "../storage/types";
import type { VerifyResult } from "./verify";

export const AuditEntrySchema = z
  .object({
    id: z.string(),
    user_id: z.string().nullable(),
    action: z.string(),
    ip: z.string().nullable(),
    user_agent: z.string().nullable(),
    created_at: z.string().openapi({ example: "2026-11-25T08:00:00.000Z" }),
    metadata: z.record(z.string(), z.unknown()),
    hash: z
      .string()
      .nullable()
      .openapi({
        description:
          "SHA-256 (hex) over the previous entry's hash and this entry's canonical JSON, chained per user; " +
          "null on entries written before chaining.",
      }),
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
    hash: e.hash,
  };
}

/** One keyset page of the log (next_cursor is null on the last page). */
export function presentAuditPage(page: Page<AuditEntry>): AuditPageJson {
  return { items: page.items.map(presentAuditEntry), next_cursor: page.nextCursor };
}

export const AuditVerifySchema = z
  .object({
    ok: z.boolean(),
    checked: z.number().int().openapi({ description: "Entries whose hash and link were checked." }),
    first_bad_id: z.string().optional().openapi({ description: "The first entry that fails (when not ok)." }),
  })
  .openapi("AuditVerification");

export function presentVerify(r: VerifyResult): z.infer<typeof AuditVerifySchema> {
  return r.firstBadId === undefined
    ? { ok: r.ok, checked: r.checked }
    : { ok: r.ok, checked: r.checked, first_bad_id: r.firstBadId };
}
