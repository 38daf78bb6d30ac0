import { type VerifyVariables, verifyAccessToken } from "edge-auth/verify";
import { Hono } from "hono";

type Env = { AUTH: Fetcher; AUTH_ISSUER: string; AUTH_AUDIENCE: string; AUTH_SECRET?: string };
const app = new Hono<{ Bindings: Env; Variables: VerifyVariables }>();

// Tokens are checked locally (ES256/EdDSA keys fetched and cached through the binding, or HS256 with the
// shared secret), then the session is confirmed live by the auth Worker, so a sign-out applies at once.
app.use(
  "/api/*",
  verifyAccessToken<Env>(({ env }) => ({
    issuer: env.AUTH_ISSUER,
    audience: env.AUTH_AUDIENCE,
    ...(env.AUTH_SECRET ? { secret: env.AUTH_SECRET } : { jwks: { fetcher: env.AUTH } }),
    session: { fetcher: env.AUTH },
  })),
);
app.get("/api/hello", (c) => c.json({ hello: c.var.authUser?.email, user_id: c.var.auth.userId }));

export default app;
