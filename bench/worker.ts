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
import { DEFAULT_CSP, SECURITY_HEADERS } from "../src/middleware";
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

// The same plain route answering with the headers every JSON response of ours carries (the security
// headers, CSP, Cache-Control, a fresh request id, the JSON charset), still before any middleware of ours.
// Apart from our code, those 8 more header lines (14 before the document-only ones left JSON) cost something in every hop of `wrangler dev`
// (the user worker, miniflare's entry worker, wrangler's proxy worker): bare/plain-headers is what the
// middleware itself costs, plain-headers/plain what carrying the headers costs.
const PLAIN_HEADERS: Record<string, string> = {
  ...Object.fromEntries(SECURITY_HEADERS),
  "Content-Security-Policy": DEFAULT_CSP,
  "Cache-Control": "no-store",
  "Content-Type": "application/json; charset=utf-8",
};
outer.get("/__bench/plain-headers", (c) =>
  c.json({ ok: true }, 200, { ...PLAIN_HEADERS, "X-Request-Id": crypto.randomUUID() }),
);
outer.all("*", (c) => app.fetch(c.req.raw, c.env, c.executionCtx));

export default { fetch: outer.fetch } satisfies ExportedHandler<Env>;
