import { createRoute, z } from "@hono/zod-openapi";
import { requestMeta } from "../context";
import { AppError } from "../errors";
import { requestBodyType } from "../http/content-type";
import { json, problems } from "../http/openapi";
import { BEARER, createRouter } from "../router";
import { rateLimit, replicaReads, requireAuth } from "../security/middleware";
import { presentUser, UserSchema } from "../users/present";
import { accountRoutes } from "./account-routes";
import { passwordLoginWithCode } from "./login";
import { presentSession, presentTokens } from "./present";
import {
  LoginFormBody,
  LoginJsonBody,
  LogoutBody,
  RefreshBody,
  SessionSchema,
  SignInResponseSchema,
  TokenResponseSchema,
} from "./schemas";
import { listSessions, logout, logoutAll, refreshSession, revokeOwnSession } from "./sessions";
import { publicJwks } from "./tokens";

const tags = ["auth"];
const BEARER_HEADER = /^Bearer ([^\s]+)$/i;

const loginRoute = createRoute({
  method: "post",
  path: "/auth/login",
  tags,
  summary: "Sign in with email and password",
  description:
    "JSON `{email, password}` or an OAuth2-style form `username=&password=`. A 2FA account answers " +
    "`{mfa_required, mfa_token, expires_in}` instead of tokens, unless the JSON body carries `otp` (a valid " +
    "code answers tokens directly; a wrong one is 401 `invalid_code`). The form's `username` is the email " +
    "address when it contains `@`, else the username. An unverified or disabled account is only " +
    "reported after the right password.",
  middleware: [rateLimit("login")] as const,
  request: {
    body: {
      content: {
        "application/json": { schema: LoginJsonBody },
        "application/x-www-form-urlencoded": { schema: LoginFormBody },
      },
    },
  },
  responses: {
    200: json(SignInResponseSchema, "Tokens, or a second-factor challenge"),
    401: problems[401],
    403: problems[403],
    422: problems[422],
    429: problems[429],
    503: problems[503],
  },
});

const refreshRoute = createRoute({
  method: "post",
  path: "/auth/refresh",
  tags,
  summary: "Exchange a refresh token for a new pair (rotation)",
  description:
    "The presented token is rotated. Presented again within 10 seconds it yields the same new refresh token " +
    "(with a freshly signed access token); later, " +
    "or any older token of the session, is treated as theft: 401 and the whole session is revoked. The token " +
    "may instead come as `Authorization: Bearer` with no body (the FastAPI service's clients); during the " +
    "cut-over, a FastAPI refresh token is exchanged once for a new session.",
  middleware: [rateLimit("refresh")] as const,
  security: [{}, ...BEARER],
  // No body is how the FastAPI service's clients refresh: the refresh token comes as a bearer token.
  request: { body: { required: false, content: { "application/json": { schema: RefreshBody } } } },
  responses: {
    200: json(TokenResponseSchema, "New tokens"),
    401: problems[401],
    422: problems[422],
    429: problems[429],
  },
});

const logoutRoute = createRoute({
  method: "post",
  path: "/auth/logout",
  tags,
  summary: "Revoke the current session (its refresh and access tokens)",
  description:
    "With `{refresh_token}`, the session that token belongs to is revoked too, if it is another live " +
    "session of the same user; a token of anyone else's session, or an unknown one, changes nothing. " +
    "204 either way.",
  security: BEARER,
  middleware: [requireAuth] as const,
  request: { body: { required: false, content: { "application/json": { schema: LogoutBody } } } },
  responses: { 204: { description: "Signed out" }, 401: problems[401] },
});

const logoutAllRoute = createRoute({
  method: "post",
  path: "/auth/logout/all",
  tags,
  summary: "Revoke every session of the user",
  security: BEARER,
  middleware: [requireAuth] as const,
  responses: { 204: { description: "Signed out everywhere" }, 401: problems[401] },
});

const meRoute = createRoute({
  method: "get",
  path: "/auth/me",
  tags,
  summary: "The signed-in user",
  security: BEARER,
  middleware: [replicaReads, requireAuth] as const,
  responses: { 200: json(UserSchema, "User"), 401: problems[401] },
});

const sessionsRoute = createRoute({
  method: "get",
  path: "/auth/sessions",
  tags,
  summary: "Live sessions of the user",
  security: BEARER,
  middleware: [replicaReads, requireAuth] as const,
  responses: { 200: json(z.object({ items: z.array(SessionSchema) }), "Sessions"), 401: problems[401] },
});

const revokeSessionRoute = createRoute({
  method: "delete",
  path: "/auth/sessions/{id}",
  tags,
  summary: "Revoke one of the user's sessions",
  security: BEARER,
  middleware: [requireAuth] as const,
  request: { params: z.object({ id: z.string().max(64) }) },
  responses: { 204: { description: "Revoked" }, 401: problems[401], 404: problems[404] },
});

const jwksRoute = createRoute({
  method: "get",
  path: "/.well-known/jwks.json",
  tags: ["meta"],
  summary: "Public keys that sign access tokens (empty with HS256)",
  responses: { 200: json(z.object({ keys: z.array(z.record(z.string(), z.unknown())) }), "JWKS") },
});

export function authRoutes() {
  const router = createRouter();

  router.openapi(loginRoute, async (c) => {
    const { email, password, otp } =
      requestBodyType(c) === "form"
        ? (({ username, password }) => ({ email: username, password, otp: undefined }))(
            LoginFormBody.parse(c.req.valid("form")),
          )
        : LoginJsonBody.parse(c.req.valid("json"));
    return c.json(await passwordLoginWithCode(c.var.deps, email, password, otp, requestMeta(c)), 200);
  });

  router.openapi(refreshRoute, async (c) => {
    const body = c.req.valid("json") as { refresh_token?: string } | undefined;
    const bearer = BEARER_HEADER.exec(c.req.header("Authorization") ?? "")?.[1];
    const token = body?.refresh_token ?? bearer;
    if (token === undefined) {
      throw new AppError("validation_error", {
        errors: [{ path: "refresh_token", message: "Required (in the body or as a bearer token)." }],
      });
    }
    const tokens = await refreshSession(c.var.deps, token, requestMeta(c));
    return c.json(presentTokens(tokens), 200);
  });

  router.openapi(logoutRoute, async (c) => {
    // The body is optional: without one there is nothing to validate.
    const body = (c.req.valid("json") as { refresh_token?: string } | undefined) ?? {};
    await logout(c.var.deps, c.var.auth, requestMeta(c), body.refresh_token);
    return c.body(null, 204);
  });

  router.openapi(logoutAllRoute, async (c) => {
    await logoutAll(c.var.deps, c.var.auth, requestMeta(c));
    return c.body(null, 204);
  });

  router.openapi(meRoute, async (c) => {
    // requireAuth already read the account (with its session, in one statement): no second query.
    return c.json(presentUser(c.var.currentUser), 200);
  });

  router.openapi(sessionsRoute, async (c) => {
    const sessions = await listSessions(c.var.deps, c.var.auth);
    return c.json({ items: sessions.map((s) => presentSession(s, c.var.auth.sessionId)) }, 200);
  });

  router.openapi(revokeSessionRoute, async (c) => {
    await revokeOwnSession(c.var.deps, c.var.auth, c.req.valid("param").id, requestMeta(c));
    return c.body(null, 204);
  });

  router.openapi(jwksRoute, async (c) => {
    c.header("Cache-Control", "public, max-age=300");
    return c.json(await publicJwks(c.var.deps.config), 200);
  });

  router.route("/", accountRoutes());
  return router;
}
