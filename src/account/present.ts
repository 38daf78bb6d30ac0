import { z } from "@hono/zod-openapi";
import { AuditEntrySchema, presentAuditEntry } from "../audit/present";
import { presentSession } from "../auth/present";
import { SessionSchema } from "../auth/schemas";
import { presentUser, UserSchema } from "../users/present";
import type { AccountExport } from "./erase";

export const AccountExportSchema = z
  .object({
    format: z.literal("edge-auth-export/1"),
    exported_at: z.string(),
    profile: UserSchema.extend({ updated_at: z.string() }),
    sessions: z.array(SessionSchema),
    providers: z.array(
      z.object({
        provider: z.string(),
        provider_user_id: z.string(),
        email: z.string().nullable(),
        linked_at: z.string(),
      }),
    ),
    passkeys: z
      .array(
        z.object({
          id: z.string(),
          name: z.string(),
          device_type: z.string(),
          backed_up: z.boolean(),
          transports: z.array(z.string()),
          created_at: z.string(),
          last_used_at: z.string().nullable(),
        }),
      )
      .openapi({ description: "Without public keys or counters: they describe the authenticator, not you." }),
    two_factor: z.object({ enabled: z.boolean(), recovery_codes_remaining: z.number().int() }),
    audit: z.object({
      entries: z.array(AuditEntrySchema).openapi({ description: "Newest first, at most 2000." }),
      truncated: z.boolean().openapi({ description: "True when older entries exist beyond the 2000." }),
    }),
  })
  .openapi("AccountExport");

export type AccountExportJson = z.infer<typeof AccountExportSchema>;

export function presentExport(data: AccountExport, currentSessionId: string, at: Date): AccountExportJson {
  return {
    format: "edge-auth-export/1",
    exported_at: at.toISOString(),
    profile: { ...presentUser(data.user), updated_at: data.user.updatedAt.toISOString() },
    sessions: data.sessions.map((s) => presentSession(s, currentSessionId)),
    providers: data.providers.map((p) => ({
      provider: p.provider,
      provider_user_id: p.providerUserId,
      email: p.email,
      linked_at: p.createdAt.toISOString(),
    })),
    // Deliberately no publicKey or counter.
    passkeys: data.passkeys.map((p) => ({
      id: p.id,
      name: p.name,
      device_type: p.deviceType,
      backed_up: p.backedUp,
      transports: p.transports,
      created_at: p.createdAt.toISOString(),
      last_used_at: p.lastUsedAt ? p.lastUsedAt.toISOString() : null,
    })),
    two_factor: {
      enabled: data.user.twoFactorEnabled,
      recovery_codes_remaining: data.recoveryCodesRemaining,
    },
    audit: { entries: data.audit.map(presentAuditEntry), truncated: data.auditTruncated },
  };
}
