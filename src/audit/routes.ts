import { createRoute, z } from "@hono/zod-openapi";
import type { AppContext } from "../context";
import { json, problems } from "../http/openapi";
import { BEARER, createRouter } from "../router";
import { replicaReads, requireAuth } from "../security/middleware";
import { requireAdmin } from "../users/access";
import {
  type AuditPageJson,
  AuditPageSchema,
  AuditVerifySchema,
  presentAuditPage,
  presentVerify,
} from "./present";
import {
  AdminAuditQuerySchema,
  type AuditQueryInput,
  AuditQuerySchema,
  assertCanReadLogs,
  queryAudit,
} from "./query";
import { verifyAuditLog } from "./verify";

const tags = ["audit"];
const UserIdParam = z.object({ user_id: z.string().min(1).max(64) });

const LOGS_DESCRIPTION =
  "Newest first, keyset-paginated (`next_cursor` is null on the last page). A user reads their own log, " +
  "an admin anyone's; any other caller gets 403 whether or not the user exists. Entries are append-only.";

/** Shared by GET /users/{user_id}/logs and GET /audit/users/{user_id}: one rule, one handler. */
export function userLogsRoute(path: "/users/{user_id}/logs" | "/audit/users/{user_id}") {
  return createRoute({
    method: "get",
    path,
    tags: path.startsWith("/users") ? ["users"] : tags,
    summary: "A user's audit log (self or admin)",
    description: LOGS_DESCRIPTION,
    security: BEARER,
    middleware: [replicaReads, requireAuth] as const,
    request: { params: UserIdParam, query: AuditQuerySchema },
    responses: {
      200: json(AuditPageSchema, "A page of entries"),
      401: problems[401],
      403: problems[403],
      404: problems[404],
      422: problems[422],
    },
  });
}

export async function userLogs(
  c: AppContext,
  userId: string,
  query: AuditQueryInput,
): Promise<AuditPageJson> {
  await assertCanReadLogs(c.var.deps, c.var.currentUser, userId);
  return presentAuditPage(await queryAudit(c.var.deps, { ...query, user_id: userId }));
}

const auditRoute = createRoute({
  method: "get",
  path: "/audit",
  tags,
  summary: "Query the audit log (admin)",
  description: `${LOGS_DESCRIPTION} Filter by \`user_id\`, \`action\` (comma list), \`since\`, \`until\`.`,
  security: BEARER,
  middleware: [replicaReads, requireAuth, requireAdmin] as const,
  request: { query: AdminAuditQuerySchema },
  responses: {
    200: json(AuditPageSchema, "A page of entries"),
    401: problems[401],
    403: problems[403],
    422: problems[422],
  },
});

const auditUserRoute = userLogsRoute("/audit/users/{user_id}");

const auditVerifyRoute = createRoute({
  method: "get",
  path: "/audit/verify",
  tags,
  summary: "Verify the audit log's hash chains (admin)",
  description:
    "Walks every chain (or `user_id`'s) from its anchor and recomputes each entry's hash: an entry that was " +
    "edited, inserted or deleted in the database is reported as `first_bad_id`. Entries removed by " +
    "retention are not: the chain then starts from the last deleted entry's hash.",
  security: BEARER,
  middleware: [requireAuth, requireAdmin] as const,
  request: { query: z.object({ user_id: z.string().min(1).max(64).optional() }) },
  responses: {
    200: json(AuditVerifySchema, "The verdict"),
    401: problems[401],
    403: problems[403],
    422: problems[422],
  },
});

export function auditRoutes() {
  const router = createRouter();

  router.openapi(auditRoute, async (c) =>
    c.json(presentAuditPage(await queryAudit(c.var.deps, c.req.valid("query"))), 200),
  );

  router.openapi(auditVerifyRoute, async (c) => {
    const { user_id } = c.req.valid("query");
    const result = await verifyAuditLog(
      c.var.deps.db.audit,
      user_id === undefined ? {} : { userId: user_id },
    );
    return c.json(presentVerify(result), 200);
  });

  router.openapi(auditUserRoute, async (c) =>
    c.json(await userLogs(c, c.req.valid("param").user_id, c.req.valid("query")), 200),
  );

  return router;
}
