import { createRoute, z } from "@hono/zod-openapi";
import { type AppContext, requestMeta } from "../context";
import { AppError } from "../errors";
import { requestBodyType } from "../http/content-type";
import { DetailSchema, json, jsonBody, problems } from "../http/openapi";
import { BEARER, createRouter } from "../router";
import { rateLimit, requireAuth } from "../security/middleware";
import { presentUser, UserSchema } from "../users/present";
import {
  changePassword,
  forgotPassword,
  register,
  resendVerification,
  resetPassword,
  verifyEmail,
} from "./accounts";
import { forgotForm, htmlPage, message, resetForm, verifyForm } from "./pages";
import { reauthenticate } from "./reauthenticate";
import {
  ChangePasswordBody,
  EmailBody,
  ReauthenticateBody,
  ReauthenticatedSchema,
  RegisterBody,
  ResetBody,
  TokenBody,
  TokenSchema,
} from "./schemas";

const ACCEPTED = "If the address can be used, we sent an email with a link. Check your inbox.";
const tags = ["account"];
const html = (description: string) => ({ description, content: { "text/html": { schema: z.string() } } });
const formOrJson = <T extends z.ZodType>(schema: T) => ({
  content: { "application/json": { schema }, "application/x-www-form-urlencoded": { schema } },
});
/** The form posts of the email-link pages answer a bad, expired or spent token with a page, not JSON. */
const usedLinkPage = (c: AppContext): never =>
  htmlPage(c, "Link not valid", message("This link is invalid, expired or already used."), 400);

const registerRoute = createRoute({
  method: "post",
  path: "/auth/register",
  tags,
  summary: "Create an account; a verification email is sent",
  description:
    "Answers 202 whether or not the email is already registered (an existing owner is emailed instead).",
  middleware: [rateLimit("register")] as const,
  request: { body: jsonBody(RegisterBody) },
  responses: {
    202: json(DetailSchema, "Accepted"),
    422: problems[422],
    429: problems[429],
    503: problems[503],
  },
});

const verifyRoute = createRoute({
  method: "post",
  path: "/auth/verify",
  tags,
  summary: "Verify an email address with the emailed token",
  description: "A form post (from the GET page) answers with an HTML page instead of JSON.",
  middleware: [rateLimit("verify")] as const,
  request: { body: formOrJson(TokenBody) },
  responses: {
    200: json(UserSchema, "Verified"),
    400: problems[400],
    422: problems[422],
    429: problems[429],
  },
});

const verifyPageRoute = createRoute({
  method: "get",
  path: "/auth/verify",
  tags,
  summary: "HTML page whose button verifies the email (a GET changes nothing)",
  request: { query: z.object({ token: z.string().max(512).optional() }) },
  responses: { 200: html("Page") },
});

/**
 * Answers 202 whether or not the address is known, after the same work (everything else runs after the
 * answer), and mails at most 3 times an hour per address.
 */
const emailLinkRoute = <P extends string>(path: P, summary: string) =>
  createRoute({
    method: "post",
    path,
    tags,
    summary,
    middleware: [rateLimit("verify")] as const,
    request: { body: jsonBody(EmailBody) },
    responses: {
      202: json(DetailSchema, "Accepted, known email or not"),
      422: problems[422],
      429: problems[429],
    },
  });

const resendRoute = emailLinkRoute("/auth/verify/resend", "Send the verification email again");

const forgotRoute = createRoute({
  method: "post",
  path: "/auth/password/forgot",
  tags,
  summary: "Email a password-reset link",
  description:
    "202 at once for every address, known or not; the lookup, the token and the email happen after the " +
    "answer, so neither the answer nor its timing tells whether the address is registered. At most 3 " +
    "emails an hour per address. A form post (from `GET /auth/password/forgot`) answers with a page.",
  middleware: [rateLimit("verify")] as const,
  request: { body: formOrJson(EmailBody) },
  responses: {
    202: json(DetailSchema, "Accepted, known email or not"),
    422: problems[422],
    429: problems[429],
  },
});

const forgotPageRoute = createRoute({
  method: "get",
  path: "/auth/password/forgot",
  tags,
  summary: "HTML form that asks for a password-reset email (linked from the emails we send)",
  responses: { 200: html("Page") },
});

const resetRoute = createRoute({
  method: "post",
  path: "/auth/password/reset",
  tags,
  summary: "Set a new password with the emailed token; every session is revoked",
  middleware: [rateLimit("verify")] as const,
  request: { body: formOrJson(ResetBody) },
  responses: {
    200: json(DetailSchema, "Password changed"),
    400: problems[400],
    422: problems[422],
    429: problems[429],
    503: problems[503],
  },
});

const resetPageRoute = createRoute({
  method: "get",
  path: "/auth/password/reset",
  tags,
  summary: "HTML form that posts a new password with the token",
  request: { query: z.object({ token: z.string().max(512).optional() }) },
  responses: { 200: html("Page") },
});

const changeRoute = createRoute({
  method: "post",
  path: "/auth/password/change",
  tags,
  summary: "Change the password; other sessions are revoked",
  security: BEARER,
  description:
    "A wrong current password is 401 `invalid_credentials` and counts as a failed sign-in toward the " +
    "account throttle (429 with Retry-After once it is locked), like /auth/login.",
  middleware: [requireAuth] as const,
  request: { body: jsonBody(ChangePasswordBody) },
  responses: {
    200: json(DetailSchema, "Changed"),
    401: problems[401],
    422: problems[422],
    429: problems[429],
    503: problems[503],
  },
});

const reauthenticateRoute = createRoute({
  method: "post",
  path: "/auth/reauthenticate",
  tags,
  summary: "Prove a credential again, so sensitive routes accept this session for a while",
  description:
    "Body `{password}`, or `{code}` (a TOTP or recovery code) for an account without a password. The " +
    "session then counts as recently authenticated for `REAUTH_WINDOW_SECONDS` (default 600 s): routes " +
    "marked [recent] (2FA setup, enable, disable and recovery codes, among others) answer 403 " +
    "`reauthentication_required` otherwise. A sign-in counts as such a proof; a refresh does not. A wrong " +
    "credential is 401 `invalid_credentials` and counts as a failed sign-in toward the account throttle " +
    "(429 with Retry-After once it is locked).",
  security: BEARER,
  middleware: [requireAuth, rateLimit("login")] as const,
  request: { body: jsonBody(ReauthenticateBody) },
  responses: {
    200: json(ReauthenticatedSchema, "Recently authenticated until"),
    401: problems[401],
    422: problems[422],
    429: problems[429],
    503: problems[503],
  },
});

export function accountRoutes() {
  const router = createRouter();

  router.openapi(registerRoute, async (c) => {
    const body = c.req.valid("json");
    await register(
      c.var.deps,
      {
        email: body.email,
        password: body.password,
        fullName: body.full_name ?? null,
        username: body.username ?? null,
      },
      requestMeta(c),
    );
    return c.json({ detail: "Registration received. Check your inbox to verify your email address." }, 202);
  });

  router.openapi(verifyRoute, async (c) => {
    if (requestBodyType(c) === "form") {
      const parsed = TokenBody.safeParse(c.req.valid("form"));
      try {
        if (!parsed.success) throw new AppError("invalid_token");
        await verifyEmail(c.var.deps, parsed.data.token, requestMeta(c));
        return htmlPage(c, "Email verified", message("Your email address is verified. You can sign in now."));
      } catch (err) {
        if (err instanceof AppError && err.code === "invalid_token") return usedLinkPage(c);
        throw err;
      }
    }
    const { token } = TokenBody.parse(c.req.valid("json"));
    const user = await verifyEmail(c.var.deps, token, requestMeta(c));
    return c.json(presentUser(user), 200);
  });

  router.openapi(verifyPageRoute, (c) => {
    const parsed = TokenSchema.safeParse(c.req.valid("query").token);
    if (!parsed.success) return htmlPage(c, "Link not valid", message("This link is incomplete."), 400);
    return htmlPage(c, "Verify your email", verifyForm(parsed.data));
  });

  router.openapi(resendRoute, (c) => {
    resendVerification(c.var.deps, c.req.valid("json").email, requestMeta(c));
    return c.json({ detail: ACCEPTED }, 202);
  });

  router.openapi(forgotRoute, (c) => {
    if (requestBodyType(c) === "form") {
      const parsed = EmailBody.safeParse(c.req.valid("form"));
      if (!parsed.success)
        return htmlPage(
          c,
          "Forgot your password?",
          message("Enter a valid email address.") + forgotForm(),
          422,
        );
      forgotPassword(c.var.deps, parsed.data.email, requestMeta(c));
      return htmlPage(c, "Check your inbox", message(ACCEPTED), 202);
    }
    forgotPassword(c.var.deps, EmailBody.parse(c.req.valid("json")).email, requestMeta(c));
    return c.json({ detail: ACCEPTED }, 202);
  });

  router.openapi(forgotPageRoute, (c) => htmlPage(c, "Forgot your password?", forgotForm()));

  router.openapi(resetRoute, async (c) => {
    if (requestBodyType(c) === "form") {
      const parsed = ResetBody.safeParse(c.req.valid("form"));
      try {
        if (!parsed.success) throw new AppError("invalid_token");
        await resetPassword(c.var.deps, parsed.data.token, parsed.data.new_password, requestMeta(c));
        return htmlPage(
          c,
          "Password changed",
          message("Your password was changed. Sign in with the new one."),
        );
      } catch (err) {
        if (err instanceof AppError && err.code === "weak_password" && parsed.success) {
          return htmlPage(
            c,
            "Choose another password",
            message(err.message) + resetForm(parsed.data.token),
            422,
          );
        }
        if (err instanceof AppError && err.code === "invalid_token") return usedLinkPage(c);
        throw err;
      }
    }
    const body = ResetBody.parse(c.req.valid("json"));
    await resetPassword(c.var.deps, body.token, body.new_password, requestMeta(c));
    return c.json({ detail: "Password changed. Every session was signed out." }, 200);
  });

  router.openapi(resetPageRoute, (c) => {
    const parsed = TokenSchema.safeParse(c.req.valid("query").token);
    if (!parsed.success) return htmlPage(c, "Link not valid", message("This link is incomplete."), 400);
    return htmlPage(c, "Choose a new password", resetForm(parsed.data));
  });

  router.openapi(changeRoute, async (c) => {
    const body = c.req.valid("json");
    await changePassword(
      c.var.deps,
      c.var.auth,
      c.var.currentUser,
      body.current_password,
      body.new_password,
      requestMeta(c),
    );
    return c.json({ detail: "Password changed. Your other sessions were signed out." }, 200);
  });

  router.openapi(reauthenticateRoute, async (c) => {
    const until = await reauthenticate(
      c.var.deps,
      c.var.auth,
      c.var.currentUser,
      c.req.valid("json"),
      requestMeta(c),
    );
    return c.json({ reauthenticated_until: until.toISOString() }, 200);
  });

  return router;
}
