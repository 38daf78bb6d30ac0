import { createApp } from "./app";
import { runScheduledRetention } from "./audit/retention";
import type { Env } from "./env";

const app = createApp();

export default {
  fetch: app.fetch,
  async scheduled(controller, env, _ctx) {
    await runScheduledRetention(env, controller.scheduledTime);
  },
} satisfies ExportedHandler<Env>;
