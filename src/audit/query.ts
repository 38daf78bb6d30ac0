import { z } from "@hono/zod-openapi";
import type { Deps } from "../deps";
import { AppError } from "../errors";
import type { AuditEntry, Page, User } from "../storage/types";
import { AUDIT_METADATA_KEYS } from "./record";

const KNOWN_ACTIONS = new Set<string>(Object.keys(AUDIT_METADATA_KEYS));

export const LimitSchema = z.coerce
  .number()
  .int()
  .min(1)
  .max(100)
  .default(50)
  .openapi({ type: "integer", minimum: 1, maximum: 100, default: 50 });

export const CursorSchema = z
  .string()
  .max(512)
  .optional()
  .openapi({ description: "The next_cursor of the previous page (opaque)." });

// ISO 8601 date-time with Z or an offset, or a plain date (midnight UTC); anything else is a 422.
const Instant = z
  .union([z.iso.datetime({ offset: true }), z.iso.date()])
  .optional()
  .openapi({ type: "string", format: "date-time", example: "2026-11-25T08:00:00.000Z" });

export const AuditQuerySchema = z
  .object({
    limit: LimitSchema,
    cursor: CursorSchema,
    action: z.string().max(1000).optional().openapi({
      description: "One action or a comma-separated list.",
      example: "login_failed,login_succeeded",
    }),
    since: Instant.openapi({ description: "Only entries at or after this instant." }),
    until: Instant.openapi({ description: "Only entries at or before this instant." }),
  })
  .superRefine((q, ctx) => {
    for (const action of splitActions(q.action)) {
      if (!KNOWN_ACTIONS.has(action)) {
        ctx.addIssue({ code: "custom", path: ["action"], message: "Unknown action." });
        return;
      }
    }
    if (q.since && q.until && new Date(q.since) > new Date(q.until)) {
      ctx.addIssue({ code: "custom", path: ["since"], message: "since is after until." });
    }
  });

export const AdminAuditQuerySchema = AuditQuerySchema.safeExtend({
  user_id: z.string().min(1).max(64).optional(),
});

export type AuditQueryInput = z.output<typeof AuditQuerySchema> & { user_id?: string };

function splitActions(action: string | undefined): string[] {
  if (!action) return [];
  return [...new Set(action.split(",").map((a) => a.trim()))].filter((a) => a !== "");
}

export async function queryAudit(deps: Deps, input: AuditQueryInput): Promise<Page<AuditEntry>> {
  const actions = splitActions(input.action);
  return deps.db.audit.list({
    limit: input.limit,
    cursor: input.cursor ?? null,
    userId: input.user_id ?? null,
    actions: actions.length > 0 ? actions : null,
    since: input.since ? new Date(input.since) : null,
    until: input.until ? new Date(input.until) : null,
  });
}

/**
 * A user reads their own log; an admin reads anyone's. Anyone else gets the same 403 whether or not the
 * target exists, so ids cannot be probed; only an admin learns that an id is unknown (404).
 */
export async function assertCanReadLogs(deps: Deps, caller: User, targetId: string): Promise<void> {
  if (caller.id === targetId) return;
  if (caller.role !== "admin") throw new AppError("forbidden");
  if (!(await deps.db.users.findById(targetId))) {
    throw new AppError("not_found", { detail: "No user with this id." });
  }
}
