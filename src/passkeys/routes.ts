import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { AuthenticationResponseJSON, RegistrationResponseJSON } from "@simplewebauthn/server";
import { presentTokens } from "../auth/present";
import { TokenResponseSchema } from "../auth/schemas";
import { type AppEnv, requestMeta } from "../context";
import { json, jsonBody, problems } from "../http/openapi";
import { BEARER, createRouter } from "../router";
import { rateLimit, replicaReads, requireAuth, requireRecentAuth } from "../security/middleware";
import type { Passkey } from "../storage/types";
import { AuthenticationResponseSchema, CredentialId, Name, RegistrationResponseSchema } from "./schemas";
import {
  authenticationOptions,
  deletePasskey,
  listPasskeys,
  registerPasskey,
  registrationOptions,
  renamePasskey,
  signInWithPasskey,
} from "./service";

const tags = ["passkeys"];

const RECENT =
  'Needs a recent sign-in (API.md "Recent authentication"): otherwise 403 `reauthentication_required`.';
const CHALLENGE_RULE =
  "Each options call issues a new challenge (stored hashed), valid 5 minutes and for one response only: " +
  "a response is checked against it once, whatever the outcome.";

// Lengths well above what authenticators produce, far below the 64 KiB body limit.

const RegisterBody = z
  .object({ response: RegistrationResponseSchema, name: Name.optional() })
  .openapi("PasskeyRegisterRequest");
const LoginBody = z.object({ response: AuthenticationResponseSchema }).openapi("PasskeyLoginRequest");
const RenameBody = z.object({ name: Name }).openapi("PasskeyRenameRequest");
const IdParams = z.object({
  id: CredentialId.openapi({ param: { name: "id", in: "path" }, description: "The credential id" }),
});

export const PasskeySchema = z
  .object({
    id: z
      .string()
      .openapi({ description: "The credential id, base64url", example: "nQ0xO1Yf5FfK2k7rQ3bEYw" }),
    name: z.string().openapi({ example: "MacBook Touch ID" }),
    created_at: z.string().openapi({ example: "2026-11-25T08:00:00.000Z" }),
    last_used_at: z.string().nullable().openapi({ example: "2026-11-26T09:30:00.000Z" }),
    backed_up: z
      .boolean()
      .openapi({ description: "Synced to a cloud account (multi-device)", example: true }),
    device_type: z.enum(["singleDevice", "multiDevice"]).openapi({ example: "multiDevice" }),
  })
  .openapi("Passkey");
const PasskeyListSchema = z.object({ items: z.array(PasskeySchema) }).openapi("PasskeyList");

const CreationOptionsSchema = z
  .looseObject({
    challenge: z.string(),
    rp: z.object({ id: z.string().optional(), name: z.string() }),
    user: z.object({ id: z.string(), name: z.string(), displayName: z.string() }),
    pubKeyCredParams: z.array(z.object({ alg: z.number(), type: z.string() })),
    timeout: z.number().optional(),
    excludeCredentials: z.array(z.looseObject({ id: z.string(), type: z.string() })).optional(),
    authenticatorSelection: z.looseObject({}).optional(),
    attestation: z.string().optional(),
  })
  .openapi("PublicKeyCredentialCreationOptionsJSON", {
    description: "Pass to startRegistration({ optionsJSON }) of @simplewebauthn/browser.",
    example: {
      challenge: "3q2-7wRkQ5yM8mFq0m2iFJb6lXh0sVfPq1GZ0uYb3nM",
      rp: { name: "edge-auth", id: "auth.example.com" },
      user: { id: "MDE5M2EzZjQtLi4u", name: "ada@example.com", displayName: "Ada Lovelace" },
      pubKeyCredParams: [
        { alg: -8, type: "public-key" },
        { alg: -7, type: "public-key" },
        { alg: -257, type: "public-key" },
      ],
      timeout: 240000,
      attestation: "none",
      excludeCredentials: [{ id: "nQ0xO1Yf5FfK2k7rQ3bEYw", type: "public-key", transports: ["internal"] }],
      authenticatorSelection: {
        residentKey: "required",
        requireResidentKey: true,
        userVerification: "preferred",
      },
      extensions: { credProps: true },
    },
  });

const RequestOptionsSchema = z
  .looseObject({
    challenge: z.string(),
    rpId: z.string().optional(),
    timeout: z.number().optional(),
    userVerification: z.string().optional(),
  })
  .openapi("PublicKeyCredentialRequestOptionsJSON", {
    description: "Pass to startAuthentication({ optionsJSON }) of @simplewebauthn/browser.",
    example: {
      challenge: "Jk8m1xQp0v3yX9bT7aLr2cN5uW4eH6sD0fG1hJ2kL3m",
      rpId: "auth.example.com",
      timeout: 240000,
      userVerification: "preferred",
      allowCredentials: [],
    },
  });

const EmptyBody = z.object({}).openapi("Empty");

function presentPasskey(p: Passkey): z.infer<typeof PasskeySchema> {
  return {
    id: p.id,
    name: p.name,
    created_at: p.createdAt.toISOString(),
    last_used_at: p.lastUsedAt ? p.lastUsedAt.toISOString() : null,
    backed_up: p.backedUp,
    device_type: p.deviceType,
  };
}

const registerOptionsRoute = createRoute({
  method: "post",
  path: "/auth/passkeys/register/options",
  tags,
  summary: "Start adding a passkey: WebAuthn creation options",
  description:
    "A discoverable credential is required (resident key), user verification preferred, algorithms EdDSA, " +
    `ES256 and RS256, attestation none; the caller's passkeys are excluded. ${CHALLENGE_RULE} ${RECENT}`,
  security: BEARER,
  middleware: [requireAuth, requireRecentAuth] as const,
  responses: {
    200: json(CreationOptionsSchema, "Creation options"),
    401: problems[401],
    403: problems[403],
    429: problems[429],
  },
});

const registerRoute = createRoute({
  method: "post",
  path: "/auth/passkeys/register",
  tags,
  summary: "Finish adding a passkey: the browser's RegistrationResponseJSON",
  description:
    "Verifies the attestation (format none or any self-attested format) against a registration challenge " +
    "issued to the caller, the origin (WEBAUTHN_ORIGINS) and the RP id (WEBAUTHN_RP_ID). Anything wrong " +
    "(signature, origin, RP id, challenge unknown, used, expired or issued to someone else, a credential " +
    'already registered) is 400 `invalid_passkey`. `name` defaults to "Passkey".',
  security: BEARER,
  middleware: [requireAuth] as const,
  request: { body: jsonBody(RegisterBody) },
  responses: {
    201: json(PasskeySchema, "The new passkey"),
    400: problems[400],
    401: problems[401],
    422: problems[422],
    429: problems[429],
  },
});

const listRoute = createRoute({
  method: "get",
  path: "/auth/passkeys",
  tags,
  summary: "The caller's passkeys, oldest first",
  security: BEARER,
  middleware: [replicaReads, requireAuth] as const,
  responses: { 200: json(PasskeyListSchema, "Passkeys"), 401: problems[401], 429: problems[429] },
});

const renameRoute = createRoute({
  method: "patch",
  path: "/auth/passkeys/{id}",
  tags,
  summary: "Rename one of the caller's passkeys",
  security: BEARER,
  middleware: [requireAuth] as const,
  request: { params: IdParams, body: jsonBody(RenameBody) },
  responses: {
    200: json(PasskeySchema, "Renamed"),
    401: problems[401],
    404: problems[404],
    422: problems[422],
    429: problems[429],
  },
});

const deleteRoute = createRoute({
  method: "delete",
  path: "/auth/passkeys/{id}",
  tags,
  summary: "Remove one of the caller's passkeys",
  description:
    "409 `last_sign_in_method` when it is the account's last way to sign in (no password, no linked " +
    `provider, no other passkey). ${RECENT}`,
  security: BEARER,
  middleware: [requireAuth, requireRecentAuth] as const,
  request: { params: IdParams },
  responses: {
    204: { description: "Removed" },
    401: problems[401],
    403: problems[403],
    404: problems[404],
    409: problems[409],
    429: problems[429],
  },
});

const loginOptionsRoute = createRoute({
  method: "post",
  path: "/auth/passkeys/login/options",
  tags,
  summary: "Start a passkey sign-in: WebAuthn request options (discoverable, no allowCredentials)",
  description: `The same answer for everyone: the browser offers whichever passkeys it holds for this RP. ${CHALLENGE_RULE}`,
  middleware: [rateLimit("login")] as const,
  request: { body: { required: false, content: { "application/json": { schema: EmptyBody } } } },
  responses: { 200: json(RequestOptionsSchema, "Request options"), 429: problems[429] },
});

const loginRoute = createRoute({
  method: "post",
  path: "/auth/passkeys/login",
  tags,
  summary: "Sign in with a passkey: the browser's AuthenticationResponseJSON",
  description:
    "Answers tokens directly: a passkey is phishing-resistant and, with user verification, satisfies " +
    "two-factor authentication, so there is never an `mfa_required` step (for an account with 2FA the " +
    "authenticator must have verified the user: PIN or biometric). Refusals are 401 `invalid_passkey`: " +
    "unknown credential, bad signature, wrong origin or RP id, challenge unknown, used or expired, or a " +
    "signature counter that did not grow for an authenticator that counts (a cloned key; audited as " +
    "`passkey_failed`). A disabled account is 403 `account_disabled`.",
  middleware: [rateLimit("login")] as const,
  request: { body: jsonBody(LoginBody) },
  responses: {
    200: json(TokenResponseSchema, "Tokens"),
    401: problems[401],
    403: problems[403],
    422: problems[422],
    429: problems[429],
  },
});

const NO_STORE = { "Cache-Control": "no-store" };

export function passkeyRoutes(): OpenAPIHono<AppEnv> {
  const router = createRouter();

  router.openapi(registerOptionsRoute, async (c) => {
    return c.json(await registrationOptions(c.var.deps, c.var.currentUser), 200);
  });

  router.openapi(registerRoute, async (c) => {
    const { response, name } = c.req.valid("json");
    const passkey = await registerPasskey(
      c.var.deps,
      c.var.currentUser,
      response as unknown as RegistrationResponseJSON,
      name,
      requestMeta(c),
    );
    return c.json(presentPasskey(passkey), 201);
  });

  router.openapi(listRoute, async (c) => {
    const items = await listPasskeys(c.var.deps, c.var.currentUser.id);
    return c.json({ items: items.map(presentPasskey) }, 200);
  });

  router.openapi(renameRoute, async (c) => {
    const { id } = c.req.valid("param");
    const { name } = c.req.valid("json");
    return c.json(presentPasskey(await renamePasskey(c.var.deps, c.var.currentUser.id, id, name)), 200);
  });

  router.openapi(deleteRoute, async (c) => {
    const { id } = c.req.valid("param");
    await deletePasskey(c.var.deps, c.var.currentUser, id, requestMeta(c));
    return c.body(null, 204);
  });

  router.openapi(loginOptionsRoute, async (c) => {
    return c.json(await authenticationOptions(c.var.deps), 200);
  });

  router.openapi(loginRoute, async (c) => {
    const { response } = c.req.valid("json");
    const tokens = await signInWithPasskey(
      c.var.deps,
      response as unknown as AuthenticationResponseJSON,
      requestMeta(c),
    );
    return c.json(presentTokens(tokens), 200, NO_STORE);
  });

  return router;
}
