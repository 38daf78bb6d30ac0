import type { Database, DeliverySettlement, WebhookDelivery } from "../storage/types";
import { LEASE_MS, nextAttemptAfterFailure } from "./policy";
import { sendEvent, type WebhookTarget } from "./webhook";

export interface DeliverOptions {
  fetch?: typeof fetch;
  now?: () => Date;
  /** Per attempt (default 5 s). */
  timeoutMs?: number;
  /** Stop starting rounds after this long (a cron run or a queue batch has a wall-clock limit). */
  budgetMs?: number;
  /** Rows leased per round. */
  batchSize?: number;
}

export interface DeliveryReport {
  delivered: number;
  retrying: number;
  failed: number;
  /** Attempts whose lease had lapsed and been taken by another deliverer: their result was dropped. */
  lostLeases: number;
  /** The earliest retry scheduled by this run (a queue consumer wakes itself up then). */
  nextRetryAt: Date | null;
}

const DEFAULT_BUDGET_MS = 25_000;
const DEFAULT_BATCH = 25;

/**
 * Delivers what is due, round after round: each round leases the due rows (at most one per user: the
 * user's earliest pending event), sends them in parallel and records each outcome, which makes the
 * user's next event due for the following round. Safe to run anywhere at once (queue consumers, the
 * cron, several isolates): a leased row is sent by its lease holder only.
 */
export async function deliverDue(
  db: Database,
  target: WebhookTarget,
  options: DeliverOptions = {},
): Promise<DeliveryReport> {
  const now = options.now ?? (() => new Date());
  const fetcher = options.fetch ?? ((input, init) => fetch(input, init));
  const budget = options.budgetMs ?? DEFAULT_BUDGET_MS;
  const started = Date.now();
  const report: DeliveryReport = { delivered: 0, retrying: 0, failed: 0, lostLeases: 0, nextRetryAt: null };
  while (Date.now() - started < budget) {
    const leaseToken = crypto.randomUUID();
    const claimed = await db.webhooks.claim(leaseToken, now(), LEASE_MS, options.batchSize ?? DEFAULT_BATCH);
    if (claimed.length === 0) break;
    const entries = new Map((await db.webhooks.entries(claimed.map((d) => d.id))).map((e) => [e.id, e]));
    await Promise.all(
      claimed.map(async (delivery) => {
        const entry = entries.get(delivery.id);
        const result = entry
          ? await sendEvent(fetcher, target, entry, now(), options.timeoutMs)
          : ({ ok: false, status: null, error: "the audit entry no longer exists" } as const);
        const settlement = settle(delivery, result, now(), entry !== undefined);
        if (!(await db.webhooks.settle(delivery.id, leaseToken, settlement))) {
          report.lostLeases++;
          return;
        }
        if (settlement.status === "delivered") report.delivered++;
        else if (settlement.status === "failed") report.failed++;
        else {
          report.retrying++;
          if (!report.nextRetryAt || settlement.nextAttemptAt < report.nextRetryAt) {
            report.nextRetryAt = settlement.nextAttemptAt;
          }
        }
      }),
    );
  }
  return report;
}

function settle(
  delivery: WebhookDelivery,
  result: Awaited<ReturnType<typeof sendEvent>>,
  at: Date,
  retriable: boolean,
): DeliverySettlement {
  if (result.ok) return { status: "delivered", at, httpStatus: result.status };
  // `attempts` already counts this attempt (the claim counted it).
  const next = retriable ? nextAttemptAfterFailure(delivery.attempts, at, delivery.giveUpAt) : null;
  return next
    ? { status: "pending", nextAttemptAt: next, error: result.error, httpStatus: result.status }
    : { status: "failed", error: result.error, httpStatus: result.status };
}
