/**
 * The cold-start reference (`npm run bench`, "startup CPU"): a bare Hono app that imports the whole
 * service lazily, so its bundle holds the same code and dependencies as the production Worker but
 * evaluates none of them at start-up. Startup CPU of the real Worker divided by this one is what our own
 * top-level work costs beyond parsing the bundle. Never deployed.
 */
import { Hono } from "hono";
import type { Env } from "../src/env";

const bare = new Hono<{ Bindings: Env }>();
bare.get("/__bench/bare", (c) => c.json({ ok: true }));
bare.all("*", async (c) => {
  const { createApp } = await import("../src/app");
  return createApp().fetch(c.req.raw, c.env, c.executionCtx);
});

export default { fetch: bare.fetch } satisfies ExportedHandler<Env>;
