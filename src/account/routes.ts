import { createRoute, z } from "@hono/zod-openapi";
import { htmlPage, message } from "../auth/pages";
import { TokenBody, TokenSchema } from "../auth/schemas";
import { type AppContext, requestMeta } from "../context";
import { AppError } from "../errors";
import { requestBodyType } from "../http/content-type";
import { DetailSchema, json, jsonBody, problems } from "../http/openapi";
import { EmailSchema } from "../lib/email-address";
import { UsernameSchema } from "../lib/username";
import { BEARER, createRouter } from "../router";
import { rateLimit, requireAuth, requireRecentAuth } from "../security/middleware";
import { presentUser, UserSchema } from "../users/present";
import { confirmEmailChange, requestEmailChange } from "./email-change";
import { deleteAccount, exportAccount } from "./erase";
import { confirmEmailChangeForm } from "./pages";
import { AccountExportSchema, presentExport } from "./present";
import { unlinkProvider, updateProfile } from "./profile";

const tags = ["account"];
const RECENT =
  'Needs a recent sign-in (API.md "Recent authentication"): otherwise 403 `reauthentication_required`.';
const html = (description: string) => ({ description, content: { "text/html": { schema: z.string() } } });
const formOrJson = <T extends z.ZodType>(schema: T) => ({
  content: { "application/json": { schema }, "application/x-www-form-urlencoded": { schema } },
});

const EmailChangeBody = z.object({ new_email: EmailSchema }).openapi("EmailChangeRequest");

// Unknown fields are stripped: only these two are ever written (the address changes through its link).
const ProfileBody = z
  .object({
    // No control characters: the name is shown in emails and admin screens (as at registration).
    full_name: z
      .string()
      .trim()
      .max(100)
      .regex(/^[^\p{Cc}]*$/u, "Must not contain control characters")
      .nullable()
      .optional(),
    username: UsernameSchema.nullable().optional(),
  })
  .openapi("ProfileUpdate");

const ProviderParam = z.object({
  provider: z.enum(["google", "facebook"]).openapi({ param: { name: "provider", in: "path" } }),
});

const changeRoute = createRoute({
  method: "post",
  path: "/auth/email/change",
  tags,
  summary: "Ask to move the account to a new address; a confirmation link goes there",
  description:
    "202 whatever the address: when another account has it (or it is the current one), nothing is sent, " +
    "and the lookup runs after the answer so its timing tells nothing either. The link is valid 1 hour, " +
    "single use, stored hashed; a newer request voids older links. At most 3 emails an hour per address. " +
    `Audited as \`email_change_requested\` (without the address). ${RECENT}`,
  security: BEARER,
  middleware: [requireAuth, requireRecentAuth, rateLimit("verify")] as const,
  request: { body: jsonBody(EmailChangeBody) },
  responses: {
    202: json(DetailSchema, "Accepted"),
    401: problems[401],
    403: problems[403],
    422: problems[422],
    429: problems[429],
  },
});

const confirmRoute = createRoute({
  method: "post",
  path: "/auth/email/change/confirm",
  tags,
  summary: "Confirm a new address with the emailed token",
  description:
    "The account moves to the address in one transaction with spending the token, and every outstanding " +
    "verification, reset, email-change and email-sign-in token of the account (and of its old address) " +
    "dies. 409 `email_taken` when another account took the address meanwhile (case-insensitively; of " +
    "two accounts confirming one address at once, exactly one wins); the token then stays unspent. A " +
    "security notice goes to the old address; audited as `email_changed`. A form post (from the GET " +
    "page) answers with an HTML page.",
  middleware: [rateLimit("verify")] as const,
  request: { body: formOrJson(TokenBody) },
  responses: {
    200: json(UserSchema, "The user, with the new address"),
    400: problems[400],
    409: problems[409],
    422: problems[422],
    429: problems[429],
  },
});

const confirmPageRoute = createRoute({
  method: "get",
  path: "/auth/email/change/confirm",
  tags,
  summary: "HTML page whose button confirms the new address (a GET changes nothing)",
  request: { query: z.object({ token: z.string().max(512).optional() }) },
  responses: { 200: html("Page") },
});

const deleteRoute = createRoute({
  method: "delete",
  path: "/auth/me",
  tags,
  summary: "Delete the account and everything personal, at once",
  description:
    "One transaction erases the account, its sessions and refresh tokens, one-time tokens (also those " +
    "carrying its address), passkeys, 2FA and recovery codes, provider links and the throttle counters " +
    "keyed by its address. Every access token of the account stops working with the next request. Audit " +
    "entries stay, pseudonymous: the user id (a random id that no longer leads anywhere), no address, " +
    "no IP, no user agent; a final `account_deleted` entry closes the chain, which still verifies. " +
    RECENT,
  security: BEARER,
  middleware: [requireAuth, requireRecentAuth] as const,
  responses: { 204: { description: "Deleted" }, 401: problems[401], 403: problems[403] },
});

const exportRoute = createRoute({
  method: "get",
  path: "/auth/me/export",
  tags,
  summary: "Download everything the service holds about the caller (JSON attachment)",
  description:
    "Profile, live sessions, linked providers, passkeys (without public keys), 2FA state and the newest " +
    `2000 of the caller's audit entries (\`audit.truncated\` says when there are more). Audited as \`account_exported\`. ${RECENT}`,
  security: BEARER,
  middleware: [requireAuth, requireRecentAuth] as const,
  responses: {
    200: {
      ...json(AccountExportSchema, "The export, as an attachment"),
      headers: z.object({
        "Content-Disposition": z
          .string()
          .openapi({ example: 'attachment; filename="edge-auth-export.json"' }),
      }),
    },
    401: problems[401],
    403: problems[403],
  },
});

const patchRoute = createRoute({
  method: "patch",
  path: "/auth/me",
  tags,
  summary: "Change the caller's full name and/or username",
  description:
    "Only `full_name` and `username` are read (null clears them); other fields are ignored. Usernames: 3 " +
    "to 32 letters, digits, `.`, `_` or `-`, starting with a letter or digit, unique case-insensitively " +
    "(409 `username_taken`, also when two accounts race for one). Audited as `profile_updated` with the " +
    "names of the changed fields, not their values.",
  security: BEARER,
  middleware: [requireAuth] as const,
  request: { body: jsonBody(ProfileBody) },
  responses: {
    200: json(UserSchema, "Updated user"),
    401: problems[401],
    409: problems[409],
    422: problems[422],
  },
});

const unlinkRoute = createRoute({
  method: "delete",
  path: "/auth/providers/{provider}",
  tags,
  summary: "Unlink a Google or Facebook sign-in from the account",
  description:
    "404 when that provider is not linked. 409 `last_sign_in_method` when nothing else (a password, a " +
    "passkey, another provider) could sign in; email sign-in does not count. Decided atomically: two " +
    `unlinks (or an unlink and a passkey removal) of the last two ways in leave one. Audited as \`oauth_unlinked\`. ${RECENT}`,
  security: BEARER,
  middleware: [requireAuth, requireRecentAuth] as const,
  request: { params: ProviderParam },
  responses: {
    204: { description: "Unlinked" },
    401: problems[401],
    403: problems[403],
    404: problems[404],
    409: problems[409],
    422: problems[422],
  },
});

/** The form post of the email's page answers a bad, spent or conflicting token with a page, not JSON. */
function confirmFailedPage(c: AppContext, err: unknown): never {
  if (err instanceof AppError && err.code === "invalid_token")
    return htmlPage(c, "Link not valid", message("This link is invalid, expired or already used."), 400);
  if (err instanceof AppError && err.code === "email_taken")
    return htmlPage(
      c,
      "Address taken",
      message("Another account uses this email address now; your address was not changed."),
      400,
    );
  throw err;
}

export function lifecycleRoutes() {
  const router = createRouter();

  router.openapi(changeRoute, (c) => {
    requestEmailChange(c.var.deps, c.var.currentUser, c.req.valid("json").new_email, requestMeta(c));
    return c.json({ detail: "If the address can be used, we sent a confirmation link to it." }, 202);
  });

  router.openapi(confirmRoute, async (c) => {
    if (requestBodyType(c) === "form") {
      const parsed = TokenBody.safeParse(c.req.valid("form"));
      try {
        if (!parsed.success) throw new AppError("invalid_token");
        await confirmEmailChange(c.var.deps, parsed.data.token, requestMeta(c));
        return htmlPage(c, "Email address changed", message("Your account now uses this email address."));
      } catch (err) {
        return confirmFailedPage(c, err);
      }
    }
    const { token } = TokenBody.parse(c.req.valid("json"));
    return c.json(presentUser(await confirmEmailChange(c.var.deps, token, requestMeta(c))), 200);
  });

  router.openapi(confirmPageRoute, (c) => {
    const parsed = TokenSchema.safeParse(c.req.valid("query").token);
    if (!parsed.success) return htmlPage(c, "Link not valid", message("This link is incomplete."), 400);
    return htmlPage(c, "Confirm your new email address", confirmEmailChangeForm(parsed.data));
  });

  router.openapi(deleteRoute, async (c) => {
    await deleteAccount(c.var.deps, c.var.currentUser, requestMeta(c));
    return c.body(null, 204);
  });

  router.openapi(exportRoute, async (c) => {
    const deps = c.var.deps;
    const data = await exportAccount(deps, c.var.auth, c.var.currentUser, requestMeta(c));
    const at = deps.now();
    const day = at.toISOString().slice(0, 10);
    c.header(
      "Content-Disposition",
      `attachment; filename="${deps.config.APP_NAME.replace(/[^\w.-]/g, "_")}-export-${day}.json"`,
    );
    c.header("Cache-Control", "no-store");
    return c.json(presentExport(data, c.var.auth.sessionId, at), 200);
  });

  router.openapi(patchRoute, async (c) => {
    const body = c.req.valid("json");
    const user = await updateProfile(
      c.var.deps,
      c.var.currentUser,
      { fullName: body.full_name, username: body.username },
      requestMeta(c),
    );
    return c.json(presentUser(user), 200);
  });

  router.openapi(unlinkRoute, async (c) => {
    await unlinkProvider(c.var.deps, c.var.currentUser, c.req.valid("param").provider, requestMeta(c));
    return c.body(null, 204);
  });

  return router;
}
