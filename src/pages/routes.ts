import { createRoute, z } from "@hono/zod-openapi";
import { handOverSession } from "../auth/handover";
import { requestMeta } from "../context";
import { json, jsonBody, problems } from "../http/openapi";
import { isAllowedRedirect } from "../oauth/redirects";
import { BEARER, createRouter } from "../router";
import { requireAuth, requireRecentAuth } from "../security/middleware";
import { PAGE_SCRIPTS, renderPage } from "./layout";
import { accountBody, loginBody, signupBody } from "./templates";

const tags = ["pages"];
const page = (description: string) => ({
  description,
  content: { "text/html": { schema: z.string() } },
});

const RedirectQuery = z.object({
  redirect_to: z
    .string()
    .max(2048)
    .optional()
    .openapi({
      description:
        "An app URL allowed by OAUTH_REDIRECT_ALLOWLIST. After sign-in the browser goes there with " +
        "`?code=<one-time code>` (exchange it at `POST /auth/oauth/exchange`). Any other value: the page " +
        "says the link is not valid and signs in for nobody.",
      example: "https://app.example.com/signed-in",
    }),
});

const PAGE_RULES =
  "Server-rendered; its script calls the JSON API with `fetch` and keeps tokens in the tab's " +
  "`sessionStorage` only. Strict CSP with a nonce per response, `frame-ancestors 'none'`, no third-party assets.";

const loginRoute = createRoute({
  method: "get",
  path: "/login",
  tags,
  summary: "Hosted sign-in page",
  description:
    "Password (email or username), passkey (button and browser autofill), email link or code, Google and " +
    "Facebook when configured, and the second-factor step when the API answers `mfa_required`. " +
    PAGE_RULES,
  request: { query: RedirectQuery },
  responses: { 200: page("Sign-in page"), 400: page("redirect_to is not allowed") },
});

const signupRoute = createRoute({
  method: "get",
  path: "/signup",
  tags,
  summary: "Hosted sign-up page",
  description: `Posts to \`/auth/register\` and shows the password policy's reasons next to the field. ${PAGE_RULES}`,
  request: { query: RedirectQuery },
  responses: { 200: page("Sign-up page") },
});

const accountRoute = createRoute({
  method: "get",
  path: "/account",
  tags,
  summary: "Hosted account page",
  description:
    "Profile, sessions, two-factor authentication, passkeys, email change, export and deletion. Steps that " +
    "need a recent sign-in ask for a password, passkey or code in place (`POST /auth/reauthenticate`). " +
    PAGE_RULES,
  responses: { 200: page("Account page (filled in by its script)") },
});

const HandoverBody = z
  .object({
    redirect_to: z.string().max(2048).openapi({
      description: "An app URL allowed by OAUTH_REDIRECT_ALLOWLIST",
      example: "https://app.example.com/signed-in",
    }),
  })
  .openapi("HandoverRequest");

const HandoverSchema = z
  .object({
    location: z.string().openapi({
      description: "`redirect_to` with `code` added to its query: send the browser there",
      example: "https://app.example.com/signed-in?code=7bQ1…",
    }),
  })
  .openapi("Handover");

const handoverRoute = createRoute({
  method: "post",
  path: "/auth/handover",
  tags: ["auth"],
  summary: "Hand the current sign-in over to an allow-listed app (the hosted login page's redirect_to)",
  description:
    "Ends the caller's session and answers `redirect_to?code=<one-time code>` (60 s, single use, stored " +
    "hashed); `POST /auth/oauth/exchange` turns the code into a new session with the same sign-in (second " +
    "factor included) and the same proof time. Of parallel hand-overs of one session exactly one succeeds " +
    "(the others: 401). Needs a recent sign-in (403 `reauthentication_required`), so an old access token " +
    "cannot be traded for a refresh token. A `redirect_to` outside OAUTH_REDIRECT_ALLOWLIST: 400 " +
    "`invalid_redirect`, and the session is kept.",
  security: BEARER,
  middleware: [requireAuth, requireRecentAuth] as const,
  request: { body: jsonBody(HandoverBody) },
  responses: {
    200: json(HandoverSchema, "Where to send the browser"),
    400: problems[400],
    401: problems[401],
    403: problems[403],
    422: problems[422],
  },
});

export function pageRoutes(): ReturnType<typeof createRouter> {
  const router = createRouter();

  router.openapi(loginRoute, (c) => {
    const config = c.var.deps.config;
    const redirectTo = c.req.valid("query").redirect_to ?? null;
    const refused = redirectTo !== null && !isAllowedRedirect(config, redirectTo);
    return renderPage(c, {
      title: "Sign in",
      status: refused ? 400 : 200,
      scripts: refused ? [] : [PAGE_SCRIPTS.webauthn, PAGE_SCRIPTS.login],
      body: loginBody({
        redirectTo: refused ? null : redirectTo,
        redirectRefused: refused,
        google: Boolean(config.GOOGLE_CLIENT_ID && config.GOOGLE_CLIENT_SECRET),
        facebook: Boolean(config.FACEBOOK_CLIENT_ID && config.FACEBOOK_CLIENT_SECRET),
        emailLogin: config.EMAIL_LOGIN,
        minPasswordLength: config.PASSWORD_MIN_LENGTH,
      }),
    });
  });

  router.openapi(signupRoute, (c) => {
    const config = c.var.deps.config;
    const redirectTo = c.req.valid("query").redirect_to ?? null;
    const allowed = redirectTo !== null && isAllowedRedirect(config, redirectTo) ? redirectTo : null;
    return renderPage(c, {
      title: "Create an account",
      scripts: [PAGE_SCRIPTS.signup],
      body: signupBody(config.PASSWORD_MIN_LENGTH, allowed),
    });
  });

  router.openapi(accountRoute, (c) =>
    renderPage(c, {
      title: "Your account",
      scripts: [PAGE_SCRIPTS.webauthn, PAGE_SCRIPTS.account],
      body: accountBody(),
    }),
  );

  router.openapi(handoverRoute, async (c) => {
    const location = await handOverSession(
      c.var.deps,
      c.var.auth,
      c.req.valid("json").redirect_to,
      requestMeta(c),
    );
    return c.json({ location }, 200);
  });

  return router;
}
