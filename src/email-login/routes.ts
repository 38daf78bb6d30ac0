import { createRoute, z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { htmlPage, message } from "../auth/pages";
import { EmailBody, SignInResponseSchema, TokenSchema } from "../auth/schemas";
import { type AppEnv, requestMeta } from "../context";
import { AppError } from "../errors";
import { requestBodyType } from "../http/content-type";
import { DetailSchema, json, jsonBody, problems } from "../http/openapi";
import { PAGE_SCRIPTS, renderPage } from "../pages/layout";
import { emailLinkBody } from "../pages/templates";
import { createRouter } from "../router";
import { rateLimit } from "../security/middleware";
import { EmailLoginVerifyBody, type EmailLoginVerifyInput } from "./schemas";
import { type EmailLoginProof, requestEmailLogin, verifyEmailLogin } from "./service";

const tags = ["email sign-in"];
const ACCEPTED =
  "If the address can be used, we sent an email with a sign-in link and code. Check your inbox.";
const OFF = " 404 when `EMAIL_LOGIN=false`.";

/** EMAIL_LOGIN=false: the routes do not exist (404), before anything is read. */
const enabled: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (!c.var.deps.config.EMAIL_LOGIN) throw new AppError("not_found");
  await next();
};

const requestRoute = createRoute({
  method: "post",
  path: "/auth/email-login",
  tags,
  summary: "Email a sign-in link and a 6-digit code",
  description:
    "202 at once, the same for every address, known or not: the lookup, the writes and the email happen " +
    "after the answer, so neither the answer nor its timing tells whether the address is registered. The " +
    "email holds a link (`/auth/email-login?token=` under `APP_URL`, or `EMAIL_LOGIN_URL?token=` for a " +
    "frontend) " +
    "and a 6-digit code; both are valid for 10 minutes and single use, and using one spends the other. A " +
    "new request replaces the address's pending one. At most 5 emails an hour per address (further " +
    "requests still answer 202). An unknown address gets an email only when `EMAIL_LOGIN_SIGNUP` is on." +
    OFF,
  middleware: [enabled, rateLimit("verify")] as const,
  request: { body: jsonBody(EmailBody) },
  responses: {
    202: json(DetailSchema, "Accepted, known email or not"),
    404: problems[404],
    422: problems[422],
    429: problems[429],
  },
});

const pageRoute = createRoute({
  method: "get",
  path: "/auth/email-login",
  tags,
  summary: "HTML page whose button signs in with the emailed link (a GET spends nothing)",
  description: `Mail scanners open links, so only the button's POST to /auth/email-login/verify spends it.${OFF}`,
  middleware: [enabled] as const,
  request: { query: z.object({ token: z.string().max(512).optional() }) },
  responses: {
    200: { description: "Page", content: { "text/html": { schema: z.string() } } },
    404: problems[404],
  },
});

const verifyRoute = createRoute({
  method: "post",
  path: "/auth/email-login/verify",
  tags,
  summary: "Sign in with the emailed link's token or the emailed code",
  description:
    "`{token}` (JSON, or the form the link's page posts) or `{email, code}` (`otp` is accepted for " +
    "`code`). Answers tokens, or `mfa_required` for an account with two-factor authentication; the " +
    "session counts as recently authenticated. Of parallel verifies of one link or code exactly one " +
    "signs in. A wrong code is 400 `invalid_code`; the 5th wrong one spends the code and the link. An " +
    "address without an account gets a new, verified account without a password (unless " +
    "`EMAIL_LOGIN_SIGNUP=false`). The sign-in verifies the address; on an unverified account it also " +
    "drops a password, second factor and sessions nobody proved the mailbox for. A disabled account is 403 " +
    `\`account_disabled\`, told only after the proof.${OFF}`,
  middleware: [enabled, rateLimit("login")] as const,
  request: {
    // Not `required`: with two media types that makes each validator run on the other's requests.
    body: {
      content: {
        "application/json": { schema: EmailLoginVerifyBody },
        "application/x-www-form-urlencoded": { schema: EmailLoginVerifyBody },
      },
    },
  },
  responses: {
    200: json(SignInResponseSchema, "Tokens, or a second-factor challenge"),
    400: problems[400],
    403: problems[403],
    404: problems[404],
    422: problems[422],
    429: problems[429],
  },
});

function proofOf(body: EmailLoginVerifyInput): EmailLoginProof {
  if ("token" in body) return { token: body.token };
  return { email: body.email, code: (body.code ?? body.otp)! };
}

export function emailLoginRoutes() {
  const router = createRouter();

  router.openapi(requestRoute, (c) => {
    requestEmailLogin(c.var.deps, c.req.valid("json").email, requestMeta(c));
    return c.json({ detail: ACCEPTED }, 202);
  });

  router.openapi(pageRoute, (c) => {
    const parsed = TokenSchema.safeParse(c.req.valid("query").token);
    if (!parsed.success) return htmlPage(c, "Link not valid", message("This link is incomplete."), 400);
    // The hosted sign-in flow: the button spends the token, then the second factor or the account page.
    return renderPage(c, {
      title: "Sign in",
      scripts: [PAGE_SCRIPTS.login],
      body: emailLinkBody(parsed.data),
    });
  });

  router.openapi(verifyRoute, async (c) => {
    // The page's form and a JSON client get the same token response (no cookies here: a frontend that
    // wants the browser signed in sets EMAIL_LOGIN_URL and posts the token itself).
    // Parsed again: with two media types and no `required`, a body of neither kind skips both validators.
    const body = EmailLoginVerifyBody.parse(
      requestBodyType(c) === "form" ? c.req.valid("form") : c.req.valid("json"),
    );
    const result = await verifyEmailLogin(c.var.deps, proofOf(body), requestMeta(c));
    return c.json(result, 200);
  });

  return router;
}
