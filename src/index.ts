import { createApp } from "./app";
import { runScheduledRetention } from "./audit/retention";
import type { Env } from "./env";
import { handleWebhookQueue, runWebhookDeliveries, WEBHOOK_CRON } from "./events/worker";

const app = createApp();

export default {
  fetch: app.fetch,
  async scheduled(controller, env, _ctx) {
    // Every cron delivers due webhooks (the only path without a queue, the safety net with one); the
    // daily one also applies retention. Both run even if the other fails, then the failure is reported.
    const runs = [runWebhookDeliveries(env)];
    if (controller.cron !== WEBHOOK_CRON)
      runs.push(runScheduledRetention(env, controller.scheduledTime).then(() => null));
    const failed = (await Promise.allSettled(runs)).find((r) => r.status === "rejected");
    if (failed) throw failed.reason;
  },
  async queue(batch, env, _ctx) {
    await handleWebhookQueue(batch, env);
  },
} satisfies ExportedHandler<Env>;
