import { getConfig } from "../config";
import type { Env } from "../env";
import { openDatabase } from "../storage";
import { type DeliverOptions, type DeliveryReport, deliverDue } from "./deliver";

/** What the queue carries: only a wake-up call. The outbox is the record; a lost message loses nothing. */
export interface WebhookNudge {
  kind: "webhooks";
}

export const NUDGE: WebhookNudge = { kind: "webhooks" };

/** The cron that only delivers webhooks (wrangler.toml [triggers]); any other cron also runs retention. */
export const WEBHOOK_CRON = "* * * * *";

/** Cloudflare Queues delays a message by at most 12 hours. */
const MAX_QUEUE_DELAY_S = 12 * 60 * 60;

/**
 * Delivers what is due, for the cron and the queue consumer. Without WEBHOOK_URL it returns at once,
 * without opening the database: no webhook, no cost.
 */
export async function runWebhookDeliveries(
  env: Env,
  options: DeliverOptions = {},
): Promise<DeliveryReport | null> {
  const config = getConfig(env);
  if (!config.WEBHOOK_URL || !config.WEBHOOK_SECRET) return null;
  const db = openDatabase(config, env);
  try {
    const report = await deliverDue(db, { url: config.WEBHOOK_URL, secret: config.WEBHOOK_SECRET }, options);
    if (report.delivered + report.retrying + report.failed + report.lostLeases > 0) {
      console.log(JSON.stringify({ level: "info", msg: "webhook deliveries", ...report }));
    }
    if (report.failed > 0) {
      // Loud: an event a receiver never got is something an operator must see (and may retry).
      console.error(
        JSON.stringify({ level: "error", msg: "webhook deliveries failed for good", count: report.failed }),
      );
    }
    return report;
  } finally {
    await db.close();
  }
}

/**
 * The queue consumer: every message is a nudge, so one drain serves the whole batch. A retry that is
 * due later wakes the queue again then (the cron would find it too, within a minute).
 */
export async function handleWebhookQueue(
  batch: MessageBatch<unknown>,
  env: Env,
  options: DeliverOptions = {},
): Promise<DeliveryReport | null> {
  const report = await runWebhookDeliveries(env, options);
  batch.ackAll();
  if (report?.nextRetryAt && env.WEBHOOK_QUEUE) {
    const now = (options.now ?? (() => new Date()))();
    const delaySeconds = Math.ceil((report.nextRetryAt.getTime() - now.getTime()) / 1000);
    await env.WEBHOOK_QUEUE.send(NUDGE, {
      delaySeconds: Math.min(Math.max(delaySeconds, 0), MAX_QUEUE_DELAY_S),
    });
  }
  return report;
}
