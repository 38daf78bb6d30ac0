import { createRoute, z } from "@hono/zod-openapi";
import { createRouter } from "./router";

const StoreStatus = z.object({ kind: z.string(), status: z.enum(["ok", "down"]) });
const HealthBody = z
  .object({
    status: z.enum(["ok", "degraded"]),
    storage: z.object({ database: StoreStatus, ephemeral: StoreStatus }),
  })
  .openapi("Health");

const route = createRoute({
  method: "get",
  path: "/health",
  tags: ["meta"],
  summary: "Liveness and storage reachability",
  responses: {
    200: { description: "Both stores answer", content: { "application/json": { schema: HealthBody } } },
    503: { description: "A store is down", content: { "application/json": { schema: HealthBody } } },
  },
});

export function healthRoutes() {
  const router = createRouter();
  router.openapi(route, async (c) => {
    const { db, ephemeral } = c.var.deps;
    const [d, e] = await Promise.allSettled([db.ping(), ephemeral.ping()]);
    const body = {
      status: d.status === "fulfilled" && e.status === "fulfilled" ? ("ok" as const) : ("degraded" as const),
      storage: {
        database: { kind: db.kind, status: d.status === "fulfilled" ? ("ok" as const) : ("down" as const) },
        ephemeral: {
          kind: ephemeral.kind,
          status: e.status === "fulfilled" ? ("ok" as const) : ("down" as const),
        },
      },
    };
    return body.status === "ok" ? c.json(body, 200) : c.json(body, 503);
  });
  return router;
}
