/**
 * The bench Worker: the production app plus the bench-only routes (bench/routes.ts). Only
 * bench/wrangler.toml (used by `npm run bench`) names this entry; `npm run build` and `npm run deploy`
 * bundle src/index.ts, which never imports anything under bench/.
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import { createApp } from "../src/app";
import type { AppEnv } from "../src/context";
import type { AppOptions } from "../src/deps";
import type { Env } from "../src/env";
import { benchRoutes } from "./routes";

export function createBenchApp(options: AppOptions = {}): OpenAPIHono<AppEnv> {
  const app = createApp(options);
  // Mounted after createApp's middleware, so the bench routes run behind the whole production stack.
  app.route("/", benchRoutes());
  return app;
}

const app = createBenchApp();

export default { fetch: app.fetch } satisfies ExportedHandler<Env>;
