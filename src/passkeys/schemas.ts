import { z } from "@hono/zod-openapi";

/** The W3C `…JSON` encodings (base64url) as @simplewebauthn/browser sends them; shared with /auth/reauthenticate. */
const b64url = (max: number) =>
  z
    .string()
    .max(max)
    .regex(/^[A-Za-z0-9_-]*={0,2}$/, "Must be base64url");
export const CredentialId = b64url(1366).min(1).openapi({ example: "nQ0xO1Yf5FfK2k7rQ3bEYw" });
export const Name = z
  .string()
  .trim()
  .min(1)
  .max(64)
  .regex(/^[^\p{Cc}]*$/u, "Must not contain control characters")
  .openapi({ example: "MacBook Touch ID" });

// The W3C …JSON encodings, as @simplewebauthn/browser produces them. Only the shape is checked here;
// @simplewebauthn/server verifies the content. Unknown members are kept (future extensions).
export const RegistrationResponseSchema = z
  .looseObject({
    id: CredentialId,
    rawId: CredentialId,
    type: z.literal("public-key"),
    response: z.looseObject({
      clientDataJSON: b64url(8192),
      attestationObject: b64url(32768),
      transports: z.array(z.string().max(32)).max(16).optional(),
    }),
    clientExtensionResults: z.looseObject({}).default({}),
    authenticatorAttachment: z.enum(["platform", "cross-platform"]).optional(),
  })
  .openapi("RegistrationResponseJSON", {
    example: {
      id: "nQ0xO1Yf5FfK2k7rQ3bEYw",
      rawId: "nQ0xO1Yf5FfK2k7rQ3bEYw",
      type: "public-key",
      response: {
        clientDataJSON: "eyJ0eXBlIjoid2ViYXV0aG4uY3JlYXRlIiwiY2hhbGxlbmdlIjoiLi4uIn0",
        attestationObject: "o2NmbXRkbm9uZWdhdHRTdG10oGhhdXRoRGF0YVjF...",
        transports: ["internal", "hybrid"],
      },
      clientExtensionResults: {},
      authenticatorAttachment: "platform",
    },
  });

export const AuthenticationResponseSchema = z
  .looseObject({
    id: CredentialId,
    rawId: CredentialId,
    type: z.literal("public-key"),
    response: z.looseObject({
      clientDataJSON: b64url(8192),
      authenticatorData: b64url(8192),
      signature: b64url(2048),
      userHandle: b64url(128).optional(),
    }),
    clientExtensionResults: z.looseObject({}).default({}),
    authenticatorAttachment: z.enum(["platform", "cross-platform"]).optional(),
  })
  .openapi("AuthenticationResponseJSON", {
    example: {
      id: "nQ0xO1Yf5FfK2k7rQ3bEYw",
      rawId: "nQ0xO1Yf5FfK2k7rQ3bEYw",
      type: "public-key",
      response: {
        clientDataJSON: "eyJ0eXBlIjoid2ViYXV0aG4uZ2V0IiwiY2hhbGxlbmdlIjoiLi4uIn0",
        authenticatorData: "SZYN5YgOjGh0NBcPZHZgW4_krrmihjLHmVzzuoMdl2MFAAAAAQ",
        signature: "MEUCIQD...",
        userHandle: "MDE5M2EzZjQtLi4u",
      },
      clientExtensionResults: {},
    },
  });
