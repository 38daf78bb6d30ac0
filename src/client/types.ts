// Wire types of the API, derived from the server's own zod schemas. Every import here is `import type`:
// it is erased at build time, so a browser bundle of the client contains none of the server's code
// (test/client/bundle.d1.test.ts builds one and checks).
import type { z } from "@hono/zod-openapi";
import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from "@simplewebauthn/server";
import type {
  LoginJsonBody,
  MfaChallengeSchema,
  ReauthenticatedSchema,
  RegisterBody,
  SessionSchema,
  TokenResponseSchema,
} from "../auth/schemas";
import type { WireErrorCode } from "../errors";
import type { PasskeySchema } from "../passkeys/routes";
import type { UserSchema } from "../users/present";

export type TokenResponse = z.infer<typeof TokenResponseSchema>;
export type MfaChallenge = z.infer<typeof MfaChallengeSchema>;
export type User = z.infer<typeof UserSchema>;
export type Session = z.infer<typeof SessionSchema>;
export type Passkey = z.infer<typeof PasskeySchema>;
export type Reauthenticated = z.infer<typeof ReauthenticatedSchema>;
export type LoginRequest = z.input<typeof LoginJsonBody>;
export type RegisterRequest = z.input<typeof RegisterBody>;

/** POST /auth/reauthenticate: one credential per request. */
export type ReauthenticateRequest =
  | { password: string }
  | { code: string }
  | { passkey: AuthenticationResponseJSON };

/** POST /auth/email-login/verify (API.md "Email sign-in"): the link's token, or the address and its code. */
export type EmailLoginVerifyRequest = { token: string } | { email: string; code: string };

/** Error codes the service answers with; the client adds `network_error` and `invalid_response`. */
export type ErrorCode = WireErrorCode | "network_error" | "invalid_response";

export type {
  AuthenticationResponseJSON,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
};
