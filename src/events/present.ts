import { z } from "@hono/zod-openapi";
import type { Page, WebhookDelivery } from "../storage/types";

const Instant = z.string().openapi({ example: "2026-11-25T08:00:00.000Z" });

export const WebhookDeliverySchema = z
  .object({
    id: z.string().openapi({ description: "The event id (the audit entry's id), sent as `webhook-id`." }),
    user_id: z.string().nullable(),
    action: z.string().nullable().openapi({ description: "The audit entry's action (null if it is gone)." }),
    status: z.enum(["pending", "delivered", "failed"]),
    attempts: z.number().int(),
    next_attempt_at: Instant.openapi({ description: "When a pending delivery is next tried." }),
    give_up_at: Instant.openapi({ description: "After this, a failed attempt marks the delivery failed." }),
    last_error: z.string().nullable().openapi({ example: "HTTP 503" }),
    last_status: z.number().int().nullable().openapi({ description: "The receiver's last HTTP status." }),
    created_at: Instant,
    delivered_at: Instant.nullable(),
  })
  .openapi("WebhookDelivery");

export const WebhookDeliveryPageSchema = z
  .object({ items: z.array(WebhookDeliverySchema), next_cursor: z.string().nullable() })
  .openapi("WebhookDeliveryPage");

export type WebhookDeliveryJson = z.infer<typeof WebhookDeliverySchema>;

export function presentDelivery(d: WebhookDelivery & { action?: string | null }): WebhookDeliveryJson {
  return {
    id: d.id,
    user_id: d.userId,
    action: d.action ?? null,
    status: d.status,
    attempts: d.attempts,
    next_attempt_at: d.nextAttemptAt.toISOString(),
    give_up_at: d.giveUpAt.toISOString(),
    last_error: d.lastError,
    last_status: d.lastStatus,
    created_at: d.createdAt.toISOString(),
    delivered_at: d.deliveredAt?.toISOString() ?? null,
  };
}

export function presentDeliveryPage(
  page: Page<WebhookDelivery & { action: string | null }>,
): z.infer<typeof WebhookDeliveryPageSchema> {
  return { items: page.items.map(presentDelivery), next_cursor: page.nextCursor };
}
