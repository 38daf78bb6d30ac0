import { createRoute, z } from "@hono/zod-openapi";
import { generateCookie, getCookie, setCookie } from "hono/cookie";
import { SignInResponseSchema } from "../auth/schemas";
import { exchangeSignInCode, SIGN_IN_CODE_TTL_SECONDS } from "../auth/sign-in-code";
import { requestMeta } from "../context";
import { AppError } from "../errors";
import { json, jsonBody, problems } from "../http/openapi";
import { createRouter } from "../router";
import { rateLimit, requireAuth } from "../security/middleware";
import type { OAuthProviderName } from "../storage/types";
import {
  completeCallback,
  OAUTH_STATE_TTL_SECONDS,
  signInWithProviderCode,
  signInWithProviderToken,
  startAuthorization,
} from "./service";

const tags = ["oauth"];

// __Host-: only set over HTTPS, by this exact host, for Path=/ (no subdomain can plant or read it).
const STATE_COOKIE = "oauth_state";
const COOKIE_OPTIONS = {
  prefix: "host",
  path: "/",
  secure: true,
  httpOnly: true,
  // Lax: the provider's top-level redirect back to us must carry it.
  sameSite: "Lax",
} as const;
const CLEAR_STATE_COOKIE = generateCookie(STATE_COOKIE, "", { ...COOKIE_OPTIONS, maxAge: 0 });

const LINKING = [
  "Accounts are keyed by the provider's user id, never by email.",
  "Google: a new identity is linked to an existing account with the same email only when Google says the email",
  "is verified; if that account's own email was never verified, the sign-in takes it over safely (the account",
  "becomes verified, its unproven password is cleared and must be reset, its sessions are revoked).",
  "A Google identity whose email is unverified (or any identity without an email) never links to or creates an",
  "account: 403 `email_not_verified`, the same answer whether or not the email is registered; a new Google user",
  "is created verified.",
  "Facebook does not assert that an email is verified: a Facebook sign-in never links to an existing account by",
  "email, never verifies an address and never grants ADMIN_EMAILS. When the email belongs to an account it",
  "answers 409 `account_exists`; the owner links Facebook from a signed-in session",
  "(`GET /auth/facebook/authorize?link=true` with a bearer token). An unknown email gets a new, unverified account.",
  "A 2FA account answers `mfa_required`; a disabled one 403 `account_disabled`.",
].join(" ");

const Url = z.string().max(2048);

const AuthorizeQuery = z.object({
  redirect_to: Url.optional().openapi({
    description:
      "Where to send the browser after sign-in, with a one-time `code` in the query (exchange it at " +
      "`POST /auth/oauth/exchange`). Must match OAUTH_REDIRECT_ALLOWLIST (origin and path prefix).",
    example: "https://app.example.com/signed-in",
  }),
  link: z
    .enum(["true", "false"])
    .optional()
    .openapi({
      description:
        "`true` with `Authorization: Bearer`: link the provider identity to the signed-in caller instead of " +
        "signing in by email (how an account owner adds Facebook). 401 without a valid bearer token.",
    }),
});

const ExchangeBody = z
  .object({ code: z.string().min(1).max(256).openapi({ description: "The `code` from the redirect" }) })
  .openapi("SignInCodeExchange");

const exchangeRoute = createRoute({
  method: "post",
  path: "/auth/oauth/exchange",
  tags,
  summary: "Exchange the one-time code of a redirect_to hand-over for tokens",
  description:
    "A sign-in that ends in a redirect (the OAuth callback with `redirect_to`, later the hosted login page) " +
    `hands the browser a one-time \`code\` (${SIGN_IN_CODE_TTL_SECONDS} s, single use, stored hashed) ` +
    "instead of tokens in the URL. This exchanges it for the token response, or `mfa_required` for a 2FA " +
    "account. An unknown, expired or already exchanged code: 400 `invalid_code`; an account disabled " +
    "since: 403 `account_disabled`.",
  middleware: [rateLimit("login")] as const,
  request: { body: jsonBody(ExchangeBody) },
  responses: {
    200: json(SignInResponseSchema, "Tokens, or a second-factor challenge"),
    400: problems[400],
    403: problems[403],
    422: problems[422],
    429: problems[429],
  },
});

const CallbackQuery = z.object({
  code: z.string().max(2048).optional(),
  state: z.string().max(512).optional(),
  error: z.string().max(256).optional(),
  error_description: z.string().max(2048).optional(),
});

const CodeVerifier = z.string().regex(/^[A-Za-z0-9._~-]{43,128}$/, "A PKCE code_verifier (RFC 7636 §4.1)");

const GoogleBody = z
  .union([
    z.object({ id_token: z.string().min(1).max(8192) }),
    z.object({
      code: z.string().min(1).max(2048),
      code_verifier: CodeVerifier,
      redirect_uri: Url.optional(),
    }),
  ])
  .openapi("GoogleSignInRequest");

const FacebookBody = z
  .union([
    z.object({ access_token: z.string().min(1).max(4096) }),
    z.object({ code: z.string().min(1).max(2048), redirect_uri: Url.optional() }),
  ])
  .openapi("FacebookSignInRequest");

const redirectResponse = (description: string) => ({
  description,
  headers: z.object({ Location: z.string(), "Set-Cookie": z.string().optional() }),
});

function routesFor(provider: OAuthProviderName, label: string) {
  const authorize = createRoute({
    method: "get",
    path: `/auth/${provider}/authorize`,
    tags,
    summary: `Start signing in with ${label} (browser redirect)`,
    description:
      `302 to ${label} with a fresh single-use \`state\` (10 minutes)` +
      (provider === "google" ? ", a PKCE S256 challenge and an OpenID Connect nonce" : "") +
      ". The state is bound to this browser by an `HttpOnly; Secure; SameSite=Lax` cookie " +
      "(`__Host-oauth_state`), so the callback must happen in the same browser. " +
      `Register \`\${APP_URL}/auth/${provider}/callback\` as the redirect URI with ${label}. ` +
      "With `link=true` and a bearer token the callback links the identity to the caller.",
    request: { query: AuthorizeQuery },
    responses: {
      302: redirectResponse(`To ${label}`),
      400: problems[400],
      401: problems[401],
      404: problems[404],
      422: problems[422],
      429: problems[429],
    },
  });

  const callback = createRoute({
    method: "get",
    path: `/auth/${provider}/callback`,
    tags,
    summary: `${label} redirects here after consent`,
    description:
      "Checks `state` against the cookie and consumes it (single use), exchanges the code" +
      (provider === "google" ? " (PKCE) and verifies the ID token's nonce" : "") +
      ", then signs in (or, for a flow started with `link=true`, links the identity to that caller and signs " +
      "them in). Without a `redirect_to` the answer is the JSON token response (or `mfa_required`); with one " +
      "it is a 302 to `redirect_to?code=<one-time code>` (no token ever travels in a URL), exchanged at " +
      "`POST /auth/oauth/exchange`. Missing, mismatched, expired or replayed state: " +
      "400 `invalid_state`; a refused or failed authorization: 400 `oauth_failed`.\n\n" +
      LINKING,
    middleware: [rateLimit("login")] as const,
    request: { query: CallbackQuery },
    responses: {
      200: json(SignInResponseSchema, "Tokens, or a second-factor challenge"),
      302: redirectResponse("To redirect_to, with a one-time code in the query"),
      400: problems[400],
      403: problems[403],
      404: problems[404],
      409: problems[409],
      422: problems[422],
      429: problems[429],
      502: { description: "The provider could not be reached" },
    },
  });

  const post = createRoute({
    method: "post",
    path: `/auth/${provider}`,
    tags,
    summary: `Sign in with a ${label} credential obtained by the client`,
    description:
      (provider === "google"
        ? "`{id_token}`: a Google ID token, verified against Google's published keys (signature, `iss`, " +
          "`aud` = our client id, `exp`). `{code, code_verifier, redirect_uri?}`: an authorization code the " +
          "client obtained with its own PKCE verifier."
        : "`{access_token}`: a Facebook user access token; it must have been issued to our app " +
          "(checked with Graph `debug_token`), a token of any other app is refused. `{code, redirect_uri?}`: " +
          "an authorization code. The email Facebook returns is not trusted as verified: 409 " +
          "`account_exists` when it belongs to an account.") +
      " `redirect_uri` defaults to our callback and must be it or match OAUTH_REDIRECT_ALLOWLIST. " +
      "An unusable credential: 401 `invalid_token`.\n\n" +
      LINKING,
    middleware: [rateLimit("login")] as const,
    request: { body: jsonBody(provider === "google" ? GoogleBody : FacebookBody) },
    responses: {
      200: json(SignInResponseSchema, "Tokens, or a second-factor challenge"),
      400: problems[400],
      401: problems[401],
      403: problems[403],
      404: problems[404],
      409: problems[409],
      422: problems[422],
      429: problems[429],
      502: { description: "The provider could not be reached" },
    },
  });

  return { authorize, callback, post };
}

export function oauthRoutes() {
  const router = createRouter();

  for (const [provider, label] of [
    ["google", "Google"],
    ["facebook", "Facebook"],
  ] as const) {
    const routes = routesFor(provider, label);

    router.openapi(routes.authorize, async (c) => {
      const { redirect_to, link } = c.req.valid("query");
      let linkUserId: string | null = null;
      if (link === "true") {
        // Only this variant needs a caller: the same check as every bearer route (401 without one).
        await requireAuth(c, async () => {});
        linkUserId = c.var.currentUser.id;
      }
      const { url, state } = await startAuthorization(c.var.deps, provider, redirect_to ?? null, linkUserId);
      setCookie(c, STATE_COOKIE, state, { ...COOKIE_OPTIONS, maxAge: OAUTH_STATE_TTL_SECONDS });
      return c.redirect(url, 302);
    });

    router.openapi(routes.callback, async (c) => {
      const cookieState = getCookie(c, STATE_COOKIE, "host");
      let outcome: Awaited<ReturnType<typeof completeCallback>>;
      try {
        outcome = await completeCallback(
          c.var.deps,
          provider,
          c.req.valid("query"),
          cookieState,
          requestMeta(c),
        );
      } catch (err) {
        // The state is spent (or was never good): the browser drops it whatever the outcome.
        if (err instanceof AppError)
          throw new AppError(err.code, {
            detail: err.message,
            errors: err.errors,
            headers: { ...err.headers, "Set-Cookie": CLEAR_STATE_COOKIE },
            cause: err,
          });
        throw err;
      }
      c.header("Set-Cookie", CLEAR_STATE_COOKIE);
      if (outcome.kind === "redirect") return c.redirect(outcome.location, 302);
      return c.json(outcome.result, 200);
    });

    router.openapi(routes.post, async (c) => {
      const body = c.req.valid("json") as Record<string, string | undefined>;
      const deps = c.var.deps;
      const meta = requestMeta(c);
      const credential = body.id_token ?? body.access_token;
      const result = credential
        ? await signInWithProviderToken(deps, provider, credential, meta)
        : await signInWithProviderCode(
            deps,
            provider,
            body.code ?? "",
            body.code_verifier ?? null,
            body.redirect_uri,
            meta,
          );
      return c.json(result, 200);
    });
  }

  router.openapi(exchangeRoute, async (c) => {
    return c.json(await exchangeSignInCode(c.var.deps, c.req.valid("json").code, requestMeta(c)), 200);
  });

  return router;
}
