import { z } from "@hono/zod-openapi";
import { EmailSchema, isValidEmail, PasswordInputSchema } from "../lib/email-address";
import { isEmailIdentifier, UsernameSchema } from "../lib/username";
import { AuthenticationResponseSchema } from "../passkeys/schemas";

export const TokenSchema = z
  .string()
  .min(16)
  .max(512)
  .regex(/^[A-Za-z0-9_-]+$/, "Malformed token");

export const TokenResponseSchema = z
  .object({
    access_token: z.string(),
    refresh_token: z.string(),
    token_type: z.literal("bearer"),
    expires_in: z.number().int().openapi({ example: 1800 }),
  })
  .openapi("TokenResponse");

export const MfaChallengeSchema = z
  .object({
    mfa_required: z.literal(true),
    mfa_token: z.string(),
    expires_in: z.number().int().openapi({ example: 300 }),
  })
  .openapi("MfaChallenge", {
    description:
      "The account has two-factor authentication: POST the mfa_token with a code to /auth/2fa/verify.",
  });

export const SignInResponseSchema = z.union([TokenResponseSchema, MfaChallengeSchema]);

export const RegisterBody = z
  .object({
    email: EmailSchema,
    password: PasswordInputSchema,
    // No control characters: the name is shown in emails and admin screens.
    full_name: z
      .string()
      .trim()
      .max(100)
      .regex(/^[^\p{Cc}]*$/u, "Must not contain control characters")
      .nullish(),
    // Optional; a taken one gets the same 202 as a free one (the outcome arrives by email).
    username: UsernameSchema.nullish(),
  })
  .openapi("RegisterRequest");

export const EmailBody = z.object({ email: EmailSchema }).openapi("EmailRequest");
export const TokenBody = z.object({ token: TokenSchema }).openapi("TokenRequest");
export const LoginJsonBody = z
  .object({
    email: EmailSchema,
    password: PasswordInputSchema,
    otp: z
      .string()
      .trim()
      .min(1)
      .max(64)
      .optional()
      .openapi({
        description:
          "The FastAPI service's shape: a TOTP or recovery code of a 2FA account answers tokens at once " +
          "(same replay and failure limits as /auth/2fa/verify); ignored for an account without 2FA.",
        example: "123456",
      }),
  })
  .openapi("LoginRequest");
/**
 * The OAuth2 form's `username`: an email address when it contains `@` (then it must be a valid one),
 * otherwise a username, matched case-insensitively. Any username the account has is accepted, including
 * imported ones that predate today's format, so the lookup is the only check.
 */
export const LoginIdentifierSchema = z
  .string()
  .max(320)
  .transform((v) => v.normalize("NFC").trim())
  .refine((v) => v.length > 0 && !/\p{Cc}/u.test(v), { message: "Enter your email address or username." })
  .refine((v) => !isEmailIdentifier(v) || isValidEmail(v), { message: "Enter a valid email address." })
  .openapi({ type: "string", example: "ada@example.com" });
export const LoginFormBody = z
  .object({ username: LoginIdentifierSchema, password: PasswordInputSchema })
  .openapi("LoginForm", {
    description:
      "OAuth2 password-grant style form. `username` is the email address when it contains `@`, else the username.",
  });
// Any string is accepted here so that a token of the wrong kind (an access-token JWT, a truncated paste) is
// the contract's 401 invalid_token from the service, not a 422: only a missing or empty field is 422.
export const RefreshBody = z
  .object({
    // Optional only because the FastAPI service's clients send it as `Authorization: Bearer` instead.
    refresh_token: z.string().min(1).max(4096).optional().openapi({
      description: "The refresh_token of a token response (or send it as a bearer token, without a body).",
    }),
  })
  .openapi("RefreshRequest");
export const LogoutBody = z.object({ refresh_token: TokenSchema.optional() }).openapi("LogoutRequest");
export const ResetBody = z
  .object({ token: TokenSchema, new_password: PasswordInputSchema })
  .openapi("ResetRequest");
export const ChangePasswordBody = z
  .object({ current_password: PasswordInputSchema, new_password: PasswordInputSchema })
  .openapi("ChangePasswordRequest");

/**
 * One credential per request; a union so more kinds (a passkey assertion) can be added without breaking
 * the existing shapes. Each variant is strict: a body naming two credentials is 422, never guessed at.
 */
export const ReauthenticateBody = z
  .union([
    z.object({ password: PasswordInputSchema }).strict(),
    z
      .object({
        code: z
          .string()
          .trim()
          .min(1)
          .max(64)
          .openapi({ description: "TOTP or recovery code (accounts without a password)", example: "123456" }),
      })
      .strict(),
    z
      .object({
        passkey: AuthenticationResponseSchema.openapi({
          description:
            "An assertion of one of the caller's passkeys, for a challenge from /auth/passkeys/login/options",
        }),
      })
      .strict(),
  ])
  .openapi("ReauthenticateRequest");
export const ReauthenticatedSchema = z
  .object({
    reauthenticated_until: z
      .string()
      .openapi({ description: "Until when the session counts as recently authenticated (ISO 8601)" }),
  })
  .openapi("Reauthenticated");

export const SessionSchema = z
  .object({
    id: z.string(),
    created_at: z.string(),
    last_used_at: z.string(),
    ip: z.string().nullable(),
    user_agent: z.string().nullable(),
    current: z.boolean(),
  })
  .openapi("Session");
