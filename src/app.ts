import { OpenAPIHono } from "@hono/zod-openapi";
import { lifecycleRoutes } from "./account/routes";
import { auditRoutes } from "./audit/routes";
import { authRoutes } from "./auth/routes";
import type { AppEnv } from "./context";
import type { AppOptions } from "./deps";
import { mountDocs } from "./docs";
import { emailLoginRoutes } from "./email-login/routes";
import { AppError, onError, problemResponse } from "./errors";
import { webhookRoutes } from "./events/routes";
import { healthRoutes } from "./health";
import { metaRoutes } from "./meta";
import { depsMiddleware, requestGuardMiddleware, responseHeadersMiddleware } from "./middleware";
import { oauthRoutes } from "./oauth/routes";
import { pageRoutes } from "./pages/routes";
import { passkeyRoutes } from "./passkeys/routes";
import { requestChecks } from "./security/middleware";
import { twoFactorRoutes } from "./twofactor/routes";
import { userRoutes } from "./users/routes";

const API_DESCRIPTION = `Authentication API for Cloudflare Workers.

* Errors are \`application/problem+json\` (RFC 9457) with a stable \`code\` and a FastAPI-style \`detail\`.
* Authenticated routes take \`Authorization: Bearer <access_token>\` (use **Authorize** above).
* Refresh tokens rotate on every use. The token that was just rotated, presented again within 10 seconds,
  gets the same new refresh token and a fresh access token (two tabs refreshing at once); presented later,
  or any older token of the session, revokes the whole session.
* Every response carries \`X-Request-Id\`; token responses carry \`Cache-Control: no-store\`.`;

export function createApp(options: AppOptions = {}): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>();

  // Few handlers on purpose (each is an async hop on every request): response headers and request id;
  // CORS, body size, media type and URL checks; the deps, then per-IP limits (route bucket or
  // "default") before any body is read, then body checks (src/middleware.ts, src/security/middleware.ts).
  app.use(responseHeadersMiddleware);
  app.use(requestGuardMiddleware);
  app.use(depsMiddleware(options, requestChecks));

  app.route("/", healthRoutes());
  app.route("/", metaRoutes());
  app.route("/", authRoutes());
  app.route("/", lifecycleRoutes());
  app.route("/", twoFactorRoutes());
  app.route("/", oauthRoutes());
  app.route("/", passkeyRoutes());
  app.route("/", emailLoginRoutes());
  app.route("/", userRoutes());
  app.route("/", auditRoutes());
  app.route("/", webhookRoutes());
  app.route("/", pageRoutes());

  app.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT",
    description: "The access_token of a token response.",
  });
  // Built on the first request of /openapi.json, then kept: the routes do not change while the isolate
  // lives, and generating the document walks every schema (too costly for start-up or every request).
  let document: ReturnType<typeof app.getOpenAPI31Document> | undefined;
  app.get("/openapi.json", (c) => {
    document ??= app.getOpenAPI31Document({
      openapi: "3.1.0",
      info: { title: "edge-auth", version: "1.0.0", description: API_DESCRIPTION },
    });
    return c.json(document);
  });
  mountDocs(app);

  app.notFound((c) => problemResponse(c, new AppError("not_found")));
  app.onError(onError);
  return app;
}
