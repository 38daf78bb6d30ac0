import { createRoute, z } from "@hono/zod-openapi";
import { CursorSchema, LimitSchema } from "../audit/query";
import { json, problems } from "../http/openapi";
import { BEARER, createRouter } from "../router";
import { requireAuth } from "../security/middleware";
import { requireAdmin } from "../users/access";
import { listDeliveries, retryDelivery } from "./admin";
import {
  presentDelivery,
  presentDeliveryPage,
  WebhookDeliveryPageSchema,
  WebhookDeliverySchema,
} from "./present";

const tags = ["webhooks"];

const listRoute = createRoute({
  method: "get",
  path: "/admin/webhooks/deliveries",
  tags,
  summary: "Pending and failed webhook deliveries (admin)",
  description:
    "Every audit entry is POSTed to `WEBHOOK_URL` (Standard Webhooks signature), at least once, in order " +
    "per user, retried with backoff for 24 h. This lists what is not delivered yet (`pending`) and what " +
    "gave up (`failed`), newest first, keyset-paginated; `status` narrows it to one.",
  security: BEARER,
  middleware: [requireAuth, requireAdmin] as const,
  request: {
    query: z.object({
      limit: LimitSchema,
      cursor: CursorSchema,
      status: z.enum(["pending", "failed"]).optional(),
    }),
  },
  responses: {
    200: json(WebhookDeliveryPageSchema, "A page of deliveries"),
    401: problems[401],
    403: problems[403],
    422: problems[422],
  },
});

const retryRoute = createRoute({
  method: "post",
  path: "/admin/webhooks/deliveries/{id}/retry",
  tags,
  summary: "Retry a webhook delivery now (admin)",
  description:
    "A failed delivery (or a pending one waiting out its backoff) becomes due at once with a new 24 h " +
    "window. A retried event may reach the receiver after later events of the same user did.",
  security: BEARER,
  middleware: [requireAuth, requireAdmin] as const,
  request: { params: z.object({ id: z.string().min(1).max(64) }) },
  responses: {
    200: json(WebhookDeliverySchema, "The delivery, pending and due now"),
    401: problems[401],
    403: problems[403],
    404: problems[404],
    409: problems[409],
    422: problems[422],
  },
});

export function webhookRoutes() {
  const router = createRouter();
  router.openapi(listRoute, async (c) =>
    c.json(presentDeliveryPage(await listDeliveries(c.var.deps, c.req.valid("query"))), 200),
  );
  router.openapi(retryRoute, async (c) =>
    c.json(presentDelivery(await retryDelivery(c.var.deps, c.req.valid("param").id)), 200),
  );
  return router;
}
