import { createRoute, z } from "@hono/zod-openapi";
import { CursorSchema, LimitSchema } from "../audit/query";
import { userLogs, userLogsRoute } from "../audit/routes";
import { requestMeta } from "../context";
import { json, jsonBody, problems } from "../http/openapi";
import { BEARER, createRouter } from "../router";
import { replicaReads, requireAuth } from "../security/middleware";
import { requireAdmin } from "./access";
import { presentUser, UserSchema } from "./present";
import { getUser, listUsers, updateUser } from "./service";

const tags = ["users"];
const UserIdParam = z.object({ user_id: z.string().min(1).max(64) });

const ListQuery = z.object({
  limit: LimitSchema,
  cursor: CursorSchema,
  q: z
    .string()
    .max(320)
    .optional()
    .openapi({ description: "Email prefix, case-insensitive; % and _ match literally.", example: "ada@" }),
});

const UserPageSchema = z
  .object({ items: z.array(UserSchema), next_cursor: z.string().nullable() })
  .openapi("UserPage");

// Unknown fields are stripped by the schema: nothing beyond role and is_active is ever assigned.
const PatchBody = z
  .object({ role: z.enum(["user", "admin"]).optional(), is_active: z.boolean().optional() })
  .openapi("UserUpdate");

const listRoute = (path: "/users" | "/users/") =>
  createRoute({
    method: "get",
    path,
    tags,
    // One documented path; the trailing-slash twin serves old clients.
    hide: path === "/users/",
    summary: "List users, newest first (admin)",
    description: "Keyset-paginated: pass `next_cursor` back as `cursor`; it is null on the last page.",
    security: BEARER,
    middleware: [replicaReads, requireAuth, requireAdmin] as const,
    request: { query: ListQuery },
    responses: {
      200: json(UserPageSchema, "A page of users"),
      401: problems[401],
      403: problems[403],
      422: problems[422],
    },
  });

const getRoute = createRoute({
  method: "get",
  path: "/users/{user_id}",
  tags,
  summary: "One user (admin)",
  security: BEARER,
  middleware: [replicaReads, requireAuth, requireAdmin] as const,
  request: { params: UserIdParam },
  responses: { 200: json(UserSchema, "User"), 401: problems[401], 403: problems[403], 404: problems[404] },
});

const patchRoute = createRoute({
  method: "patch",
  path: "/users/{user_id}",
  tags,
  summary: "Change a user's role or active flag (admin)",
  description:
    "Only `role` and `is_active` are read; other fields are ignored. Deactivation revokes every session. " +
    "An admin cannot demote or deactivate themself (403). Audited as `user_updated`.",
  security: BEARER,
  middleware: [requireAuth, requireAdmin] as const,
  request: { params: UserIdParam, body: jsonBody(PatchBody) },
  responses: {
    200: json(UserSchema, "Updated user"),
    401: problems[401],
    403: problems[403],
    404: problems[404],
    422: problems[422],
  },
});

const logsRoute = userLogsRoute("/users/{user_id}/logs");

export function userRoutes() {
  const router = createRouter();

  for (const path of ["/users", "/users/"] as const) {
    router.openapi(listRoute(path), async (c) => {
      const query = c.req.valid("query");
      const page = await listUsers(c.var.deps, query);
      return c.json({ items: page.items.map(presentUser), next_cursor: page.nextCursor }, 200);
    });
  }

  router.openapi(getRoute, async (c) => {
    return c.json(presentUser(await getUser(c.var.deps, c.req.valid("param").user_id)), 200);
  });

  router.openapi(patchRoute, async (c) => {
    const body = c.req.valid("json");
    const user = await updateUser(
      c.var.deps,
      c.var.currentUser,
      c.req.valid("param").user_id,
      { role: body.role, isActive: body.is_active },
      requestMeta(c),
    );
    return c.json(presentUser(user), 200);
  });

  router.openapi(logsRoute, async (c) =>
    c.json(await userLogs(c, c.req.valid("param").user_id, c.req.valid("query")), 200),
  );

  return router;
}
