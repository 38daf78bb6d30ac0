import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { renderSVG } from "uqr";
import { presentTokens } from "../auth/present";
import { TokenResponseSchema, TokenSchema } from "../auth/schemas";
import { type AppEnv, requestMeta } from "../context";
import { json, jsonBody, problems } from "../http/openapi";
import { BEARER, createRouter } from "../router";
import { rateLimit, requireAuth, requireRecentAuth } from "../security/middleware";
import { presentUser, UserSchema } from "../users/present";
import {
  disableTwoFactor,
  enableTwoFactor,
  regenerateRecoveryCodes,
  setupTwoFactor,
  verifyTwoFactor,
} from "./service";

const tags = ["two-factor"];

const TOTP_RULE =
  "TOTP codes follow RFC 6238 (SHA-1, 6 digits, 30-second steps); the current step and one step " +
  "before or after it are accepted to allow for clock drift, and each step is accepted at most once.";
const RECENT_RULE =
  "Needs a recently authenticated session (a sign-in or POST /auth/reauthenticate within " +
  "REAUTH_WINDOW_SECONDS): otherwise 403 `reauthentication_required`.";
const LOCKOUT_RULE =
  "After 5 wrong codes the account's code checks answer 429 (with Retry-After) for 15 minutes.";

const CodeSchema = z.string().trim().min(1).max(64).openapi({ example: "123456" });
/**
 * `code`, or `otp` as the FastAPI service's clients name it: exactly one is needed, `code` wins when
 * both are sent.
 */
const codeFields = (description: string) => ({
  code: CodeSchema.optional().describe(description),
  otp: CodeSchema.optional().describe("The same as `code` (the FastAPI service's name for it)"),
});
const CODE_REQUIRED = { message: "Required (`code` or `otp`).", path: ["code"] };
const hasCode = (b: { code?: string; otp?: string }): boolean => b.code !== undefined || b.otp !== undefined;
const codeOf = (body: { code?: string; otp?: string }): string => (body.code ?? body.otp)!;
const RECOVERY_OR_TOTP = "A 6-digit TOTP code, or a recovery code (xxxx-xxxx-xxxx)";
const CodeBody = z
  .object(codeFields(RECOVERY_OR_TOTP))
  .refine(hasCode, CODE_REQUIRED)
  .openapi("TwoFactorCodeRequest");
const TotpBody = z
  .object(codeFields("A 6-digit code from the authenticator app"))
  .refine(hasCode, CODE_REQUIRED)
  .openapi("TwoFactorEnableRequest");
const VerifyBody = z
  .object({ mfa_token: TokenSchema, ...codeFields(RECOVERY_OR_TOTP) })
  .refine(hasCode, CODE_REQUIRED)
  .openapi("TwoFactorVerifyRequest");

const SetupSchema = z
  .object({
    secret: z.string().openapi({ description: "Base32, for manual entry", example: "JBSWY3DPEHPK3PXP" }),
    otpauth_url: z.string().openapi({
      example:
        "otpauth://totp/edge-auth:ada%40example.com?secret=...&issuer=edge-auth&algorithm=SHA1&digits=6&period=30",
    }),
    qr_svg: z.string().openapi({ description: "The otpauth_url as an SVG QR code" }),
  })
  .openapi("TwoFactorSetup");
const RecoveryCodesSchema = z
  .object({
    recovery_codes: z
      .array(z.string())
      .openapi({ description: "10 single-use codes; shown only now", example: ["7kqm-x3td-9wfa"] }),
  })
  .openapi("RecoveryCodes");

const setupRoute = createRoute({
  method: "post",
  path: "/auth/2fa/setup",
  tags,
  summary: "Start two-factor enrolment: a new TOTP secret, pending until enabled",
  description:
    "Returns the secret (base32), an otpauth:// URL and the same URL as an SVG QR code. The secret is " +
    "never shown again. Calling it again replaces a pending secret. " +
    `${TOTP_RULE} ${RECENT_RULE}`,
  security: BEARER,
  middleware: [requireAuth, requireRecentAuth] as const,
  responses: {
    200: json(SetupSchema, "Pending secret"),
    401: problems[401],
    403: problems[403],
    409: problems[409],
  },
});

const enableRoute = createRoute({
  method: "post",
  path: "/auth/2fa/enable",
  tags,
  summary: "Turn two-factor authentication on with a code from the pending secret",
  description:
    "Answers 10 recovery codes, shown only this once. Every other session of the user is revoked. " +
    `${TOTP_RULE} ${RECENT_RULE}`,
  security: BEARER,
  middleware: [requireAuth, requireRecentAuth] as const,
  request: { body: jsonBody(TotpBody) },
  responses: {
    200: json(RecoveryCodesSchema, "Enabled"),
    400: problems[400],
    401: problems[401],
    403: problems[403],
    409: problems[409],
    422: problems[422],
  },
});

const disableRoute = createRoute({
  method: "post",
  path: "/auth/2fa/disable",
  tags,
  summary: "Turn two-factor authentication off (needs a TOTP or recovery code)",
  description: `${TOTP_RULE} ${LOCKOUT_RULE} ${RECENT_RULE}`,
  security: BEARER,
  middleware: [requireAuth, requireRecentAuth] as const,
  request: { body: jsonBody(CodeBody) },
  responses: {
    200: json(UserSchema, "Disabled"),
    400: problems[400],
    401: problems[401],
    403: problems[403],
    409: problems[409],
    422: problems[422],
    429: problems[429],
  },
});

const verifyRoute = createRoute({
  method: "post",
  path: "/auth/2fa/verify",
  tags,
  summary: "Second sign-in step: the mfa_token of the first step and a TOTP or recovery code",
  description:
    "The mfa_token is single-use and valid for 5 minutes; a wrong code does not use it up. " +
    `Bad or used mfa_token: 401 \`invalid_token\`; wrong code: 401 \`invalid_code\`. ${TOTP_RULE} ${LOCKOUT_RULE}`,
  middleware: [rateLimit("login")] as const,
  request: { body: jsonBody(VerifyBody) },
  responses: {
    200: json(TokenResponseSchema, "Tokens"),
    401: problems[401],
    422: problems[422],
    429: problems[429],
  },
});

const recoveryCodesRoute = createRoute({
  method: "post",
  path: "/auth/2fa/recovery-codes",
  tags,
  summary: "Replace the recovery codes (needs a TOTP or recovery code)",
  description: `The previous codes stop working; the new ones are shown only this once. ${TOTP_RULE} ${LOCKOUT_RULE} ${RECENT_RULE}`,
  security: BEARER,
  middleware: [requireAuth, requireRecentAuth] as const,
  request: { body: jsonBody(CodeBody) },
  responses: {
    200: json(RecoveryCodesSchema, "New recovery codes"),
    400: problems[400],
    401: problems[401],
    403: problems[403],
    409: problems[409],
    422: problems[422],
    429: problems[429],
  },
});

export function twoFactorRoutes(): OpenAPIHono<AppEnv> {
  const router = createRouter();

  router.openapi(setupRoute, async (c) => {
    const { secret, keyUri } = await setupTwoFactor(
      c.var.deps,
      c.var.auth,
      c.var.currentUser,
      requestMeta(c),
    );
    return c.json({ secret, otpauth_url: keyUri, qr_svg: renderSVG(keyUri) }, 200);
  });

  router.openapi(enableRoute, async (c) => {
    const code = codeOf(c.req.valid("json"));
    const codes = await enableTwoFactor(c.var.deps, c.var.auth, c.var.currentUser, code, requestMeta(c));
    return c.json({ recovery_codes: codes }, 200);
  });

  router.openapi(disableRoute, async (c) => {
    const code = codeOf(c.req.valid("json"));
    return c.json(
      presentUser(await disableTwoFactor(c.var.deps, c.var.auth, c.var.currentUser, code, requestMeta(c))),
      200,
    );
  });

  router.openapi(verifyRoute, async (c) => {
    const body = c.req.valid("json");
    const [mfa_token, code] = [body.mfa_token, codeOf(body)];
    return c.json(presentTokens(await verifyTwoFactor(c.var.deps, mfa_token, code, requestMeta(c))), 200);
  });

  router.openapi(recoveryCodesRoute, async (c) => {
    const code = codeOf(c.req.valid("json"));
    const codes = await regenerateRecoveryCodes(
      c.var.deps,
      c.var.auth,
      c.var.currentUser,
      code,
      requestMeta(c),
    );
    return c.json({ recovery_codes: codes }, 200);
  });

  return router;
}
