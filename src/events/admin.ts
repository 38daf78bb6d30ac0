import type { Deps } from "../deps";
import { AppError } from "../errors";
import type { Page, WebhookDelivery } from "../storage/types";
import { DELIVERY_WINDOW_MS } from "./policy";

export function listDeliveries(
  deps: Deps,
  query: { limit: number; cursor?: string; status?: "pending" | "failed" },
): Promise<Page<WebhookDelivery & { action: string | null }>> {
  return deps.db.webhooks.list({ limit: query.limit, cursor: query.cursor ?? null, status: query.status });
}

/**
 * Makes a delivery due now, with a fresh 24 h window: a failed one (the receiver is fixed) or a pending one
 * waiting out its backoff. Not one that is delivered, or being sent right now (its deliverer settles it).
 */
export async function retryDelivery(deps: Deps, id: string): Promise<WebhookDelivery> {
  const now = deps.now();
  const retried = await deps.db.webhooks.retry(id, now, new Date(now.getTime() + DELIVERY_WINDOW_MS));
  if (retried) {
    deps.wakeWebhooks();
    return retried;
  }
  const found = await deps.db.webhooks.find(id);
  if (!found) throw new AppError("not_found", { detail: "No webhook delivery with this id." });
  throw new AppError("conflict", {
    detail:
      found.status === "delivered"
        ? "This event was already delivered."
        : "This delivery is being attempted right now; look again in a minute.",
  });
}
