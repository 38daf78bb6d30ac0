/**
 * The bench Worker: the production app plus the bench-only routes (bench/routes.ts). Only
 * bench/wrangler.toml (used by `npm run bench`) names this entry; `npm run build` and `npm run deploy`
 * bundle src/index.ts, which never imports anything under bench/.
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import { Hono } from "hono";
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

// The middleware ratio's reference: a plain Hono route on the same Worker, in front of every middleware
// of ours (the figure compares /__bench/bare, which runs behind all of them). Every other request,
// /__bench/bare included, crosses this same outer router, so both pay its cost alike.
const outer = new Hono<{ Bindings: Env }>();
outer.get("/__bench/plain", (c) => c.json({ ok: true }));
outer.all("*", (c) => app.fetch(c.req.raw, c.env, c.executionCtx));

export default { fetch: outer.fetch } satisfies ExportedHandler<Env>;
