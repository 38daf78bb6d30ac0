import { env } from "cloudflare:workers";
import { createClient, EdgeAuthError, memoryStorage, type StoredTokens } from "edge-auth/client";
import { describe, expect, it, vi } from "vitest";
import {
  auditActions,
  BASE,
  createVerifiedUser,
  database,
  PASSWORD,
  testClient,
  tokenFromEmail,
  uniqueEmail,
} from "../helpers";
import { ALLOWED_REDIRECT, googleSignIn, googleSub, OAUTH_ENV, oauthClient } from "../oauth/fake-providers";
import { SoftwareAuthenticator } from "../passkeys/authenticator";
import { fakeClock } from "../support/clock";
import { createTwoFactorUser } from "../twofactor/support";
import { service } from "./support";

// Each in-process request opens its own Postgres connection, and the test server is shared with other
// suites (max_connections 100): on Postgres the burst is smaller. Single flight is the client's logic, the
// same whatever the backend; D1 takes the full 60.
const BURST = env.DATABASE_URL ? 20 : 60;

/**
 * A token whose signature no longer verifies. The FIRST signature character is changed: all six of its
 * bits are signature bits, whereas the last character's low bits are base64url padding, so changing it
 * (B↔A, C, D) can leave the decoded signature, and the token, valid.
 */
function tamper(jwt: string): string {
  const at = jwt.lastIndexOf(".") + 1;
  return `${jwt.slice(0, at)}${jwt[at] === "A" ? "Q" : "A"}${jwt.slice(at + 1)}`;
}

async function sessionRow(accessToken: string) {
  const sid = JSON.parse(atob(accessToken.split(".")[1]!.replace(/-/g, "+").replace(/_/g, "/"))).sid;
  const db = database();
  try {
    return await db.sessions.findById(sid);
  } finally {
    await db.close();
  }
}

describe("edge-auth/client against the service", () => {
  it("signs in with a password, reads /auth/me and lists its session", async () => {
    const svc = service();
    const user = await createVerifiedUser(testClient());
    const client = createClient({ baseUrl: BASE, fetch: svc.fetch, channel: false });

    const result = await client.login({ email: user.email, password: PASSWORD });

    expect(result).toMatchObject({ status: "signed_in", tokens: { token_type: "bearer" } });
    const me = await client.me();
    expect(me).toMatchObject({ id: user.id, email: user.email, providers: ["password"] });
    const sessions = await client.sessions();
    expect(sessions.filter((s) => s.current)).toHaveLength(1);
    expect(await auditActions(user.id)).toContain("login_succeeded");
  });

  it("surfaces the service's problems as EdgeAuthError with code, status and detail", async () => {
    const svc = service();
    const user = await createVerifiedUser(testClient());
    const client = createClient({ baseUrl: BASE, fetch: svc.fetch, channel: false });

    const wrong = await client.login({ email: user.email, password: "not-the-password" }).catch((e) => e);
    expect(wrong).toBeInstanceOf(EdgeAuthError);
    expect(wrong).toMatchObject({ code: "invalid_credentials", status: 401, detail: expect.any(String) });
    expect(wrong.requestId).toMatch(/^[0-9a-f-]{36}$/);

    const invalid = await client.login({ email: "not-an-email", password: "x" }).catch((e) => e);
    expect(invalid).toMatchObject({ code: "validation_error", status: 422 });
    expect(invalid.errors.map((e: { path: string }) => e.path)).toContain("email");

    const signedOut = await client.me().catch((e) => e);
    expect(signedOut).toMatchObject({ code: "unauthorized", status: 401 });
    expect(svc.count("GET /auth/me")).toBe(0);

    const down = createClient({
      baseUrl: BASE,
      channel: false,
      fetch: () => Promise.reject(new TypeError("connection refused")),
    });
    expect(await down.login({ email: user.email, password: PASSWORD }).catch((e) => e)).toMatchObject({
      code: "network_error",
      status: 0,
    });
    expect(await auditActions(user.id)).toContain("login_failed");
  });

  it("finishes a second-factor sign-in", async () => {
    const svc = service();
    const user = await createTwoFactorUser(testClient());
    const client = createClient({ baseUrl: BASE, fetch: svc.fetch, channel: false });

    const first = await client.login({ email: user.email, password: PASSWORD });
    expect(first).toEqual({ status: "mfa_required", mfa_token: expect.any(String), expires_in: 300 });
    expect(await client.isSignedIn()).toBe(false);
    if (first.status !== "mfa_required") throw new Error("expected the second-factor step");

    const second = await client.verifySecondFactor(first.mfa_token, user.recoveryCodes[0]!);

    expect(second.status).toBe("signed_in");
    expect((await client.me()).two_factor_enabled).toBe(true);
    expect(await auditActions(user.id)).toContain("recovery_code_used");
  });

  it("registers a passkey and signs in with it from the browser's responses", async () => {
    const svc = service();
    const user = await createVerifiedUser(testClient());
    const authenticator = await SoftwareAuthenticator.create(BASE);
    const owner = createClient({ baseUrl: BASE, fetch: svc.fetch, channel: false });
    await owner.login({ email: user.email, password: PASSWORD });

    const creation = await owner.passkeyRegistrationOptions();
    const passkey = await owner.registerPasskey(await authenticator.register(creation), "Laptop");
    expect(passkey).toMatchObject({ id: authenticator.credentialId, name: "Laptop" });

    const browser = createClient({ baseUrl: BASE, fetch: svc.fetch, channel: false });
    const options = await browser.passkeyLoginOptions();
    const result = await browser.passkeyLogin(await authenticator.assert(options));

    expect(result.status).toBe("signed_in");
    expect((await browser.me()).providers).toEqual(["password", "passkey"]);
    expect((await browser.passkeys()).map((p) => p.id)).toEqual([authenticator.credentialId]);
    expect(await auditActions(user.id)).toContain("passkey_login");
  });

  it("exchanges the one-time code of a redirect_to hand-over, once", async () => {
    const harness = oauthClient();
    const email = uniqueEmail("g");
    const redirect = await googleSignIn(
      harness,
      { sub: googleSub(), email, email_verified: true },
      `?redirect_to=${encodeURIComponent(ALLOWED_REDIRECT)}`,
    );
    const code = new URL(redirect.headers.get("Location")!).searchParams.get("code")!;
    const client = createClient({ baseUrl: BASE, fetch: service({}, OAUTH_ENV).fetch, channel: false });

    expect((await client.exchangeCode(code)).status).toBe("signed_in");
    expect((await client.me()).email).toBe(email);
    const again = await client.exchangeCode(code).catch((e) => e);
    expect(again).toMatchObject({ code: "invalid_code", status: 400 });
  });

  it(`answers ${BURST} concurrent 401s with exactly one refresh, and the session stays alive`, async () => {
    const svc = service();
    const user = await createVerifiedUser(testClient());
    const storage = memoryStorage();
    const client = createClient({ baseUrl: BASE, fetch: svc.fetch, storage, channel: false });
    await client.login({ email: user.email, password: PASSWORD });
    const signedIn = (await storage.get())!;
    // The access token is refused (as an expired or rotated-key one would be); the refresh token is good.
    await storage.set({ ...signedIn, access_token: tamper(signedIn.access_token) });

    const answers = await Promise.all(
      Array.from({ length: BURST }, (_, i) => (i % 2 ? client.me() : client.sessions())),
    );

    expect(answers).toHaveLength(BURST);
    expect(svc.count("POST /auth/refresh")).toBe(1);
    const after = (await storage.get())!;
    expect(after.refresh_token).not.toBe(signedIn.refresh_token);
    // Alive: not revoked in the store, no reuse detected, and the new pair keeps working and rotating.
    expect((await sessionRow(after.access_token))?.revokedAt).toBeNull();
    const actions = await auditActions(user.id);
    expect(actions.filter((a) => a === "token_refreshed")).toHaveLength(1);
    expect(actions).not.toContain("refresh_token_reused");
    await client.refresh();
    expect((await client.me()).id).toBe(user.id);
  });

  it("refreshes once, ahead of time, when the access token has expired", async () => {
    const svc = service();
    const user = await createVerifiedUser(testClient());
    const storage = memoryStorage();
    const client = createClient({ baseUrl: BASE, fetch: svc.fetch, storage, channel: false });
    await client.login({ email: user.email, password: PASSWORD });
    const clock = fakeClock();
    clock.advance(31 * 60_000);

    await Promise.all(Array.from({ length: 10 }, () => client.me()));

    expect(svc.count("POST /auth/refresh")).toBe(1);
    // Refreshed before calling: no request went out with the expired token.
    expect(svc.count("GET /auth/me")).toBe(10);
    expect((await storage.get())!.expires_at).toBeGreaterThan(clock.now());
  });

  it("surfaces a refused refresh as a typed error, once, and forgets the tokens", async () => {
    const svc = service();
    const raw = testClient();
    const user = await createVerifiedUser(raw);
    const storage = memoryStorage();
    const onSessionEnd = vi.fn();
    const client = createClient({ baseUrl: BASE, fetch: svc.fetch, storage, channel: false, onSessionEnd });
    await client.login({ email: user.email, password: PASSWORD });
    const tokens = (await storage.get()) as StoredTokens;
    // Signed out elsewhere (another device revoking this session).
    expect((await raw.call("POST", "/auth/logout", { token: tokens.access_token })).status).toBe(204);

    const failures = await Promise.all(Array.from({ length: 5 }, () => client.me().catch((e) => e)));

    for (const f of failures) {
      expect(f).toBeInstanceOf(EdgeAuthError);
      expect(f).toMatchObject({ code: "invalid_token", status: 401 });
    }
    expect(svc.count("POST /auth/refresh")).toBe(1);
    expect(onSessionEnd).toHaveBeenCalledTimes(1);
    expect(await storage.get()).toBeNull();
    expect(await client.me().catch((e) => e.code)).toBe("unauthorized");
  });

  it("a refused call whose 401 arrives after another call already ended the session says the session ended", async () => {
    const svc = service();
    const user = await createVerifiedUser(testClient());
    // The second GET /auth/me is answered only after the first call has refreshed, been refused and
    // forgotten the tokens (a slow response among parallel calls).
    let meCalls = 0;
    let releaseLate!: () => void;
    const late = new Promise<void>((resolve) => (releaseLate = resolve));
    const fetch = async (request: Request): Promise<Response> => {
      // Counted when sent (the second call's request), held once answered.
      const nth = new URL(request.url).pathname === "/auth/me" ? ++meCalls : 0;
      const res = await svc.fetch(request);
      if (nth === 2) await late;
      return res;
    };
    const storage = memoryStorage();
    const client = createClient({ baseUrl: BASE, fetch, storage, channel: false });
    await client.login({ email: user.email, password: PASSWORD });
    const tokens = (await storage.get()) as StoredTokens;
    expect((await testClient().call("POST", "/auth/logout", { token: tokens.access_token })).status).toBe(
      204,
    );

    const first = client.me().catch((e) => e);
    const second = client.me().catch((e) => e);
    expect(await first).toMatchObject({ code: "invalid_token", status: 401 });
    expect(await storage.get()).toBeNull();
    releaseLate();
    expect(await second).toMatchObject({ code: "invalid_token", status: 401 });
    expect(svc.count("POST /auth/refresh")).toBe(1);
  });

  it("does not refresh on a 401 that is not about the token (a wrong password to reauthenticate)", async () => {
    const svc = service();
    const user = await createVerifiedUser(testClient());
    const client = createClient({ baseUrl: BASE, fetch: svc.fetch, channel: false });
    await client.login({ email: user.email, password: PASSWORD });

    const wrong = await client.reauthenticate({ password: "wrong-password-1" }).catch((e) => e);

    expect(wrong).toMatchObject({ code: "invalid_credentials", status: 401 });
    expect(svc.count("POST /auth/refresh")).toBe(0);
    expect(await client.reauthenticate({ password: PASSWORD })).toEqual({
      reauthenticated_until: expect.any(String),
    });
  });

  it("logs out: the session is revoked in the store and the tokens are gone", async () => {
    const svc = service();
    const user = await createVerifiedUser(testClient());
    const storage = memoryStorage();
    const client = createClient({ baseUrl: BASE, fetch: svc.fetch, storage, channel: false });
    await client.login({ email: user.email, password: PASSWORD });
    const tokens = (await storage.get())!;

    await client.logout();

    expect(await storage.get()).toBeNull();
    expect((await sessionRow(tokens.access_token))?.revokedAt).not.toBeNull();
    const replay = await testClient().call("POST", "/auth/refresh", {
      json: { refresh_token: tokens.refresh_token },
    });
    expect(replay.status).toBe(401);
    expect(await auditActions(user.id)).toContain("logout");
  });

  it("signs in with an emailed code and with an emailed link; a spent or wrong one is a typed error", async () => {
    const svc = service();
    const user = await createVerifiedUser(testClient());
    const client = createClient({ baseUrl: BASE, fetch: svc.fetch, channel: false });

    expect(await client.requestEmailLogin(user.email)).toMatchObject({ detail: expect.any(String) });
    const first = svc.mailbox.last(user.email);
    const code = /sign-in code is (\d{6})/.exec(first.text)?.[1] ?? "";
    const wrong = String((Number(code) + 1) % 1_000_000).padStart(6, "0");
    const refused = await client.verifyEmailLogin({ email: user.email, code: wrong }).catch((e) => e);
    expect(refused).toBeInstanceOf(EdgeAuthError);
    expect(refused).toMatchObject({ code: "invalid_code", status: 400 });
    expect(await client.verifyEmailLogin({ email: user.email, code })).toMatchObject({ status: "signed_in" });
    expect((await client.me()).id).toBe(user.id);

    await client.requestEmailLogin(user.email);
    const token = tokenFromEmail(svc.mailbox.last(user.email));
    expect(await client.verifyEmailLogin({ token })).toMatchObject({ status: "signed_in" });
    const again = await client.verifyEmailLogin({ token }).catch((e) => e);
    expect(again).toMatchObject({ code: "invalid_token", status: 400 });
    expect((await auditActions(user.id)).filter((a) => a === "email_login")).toHaveLength(2);
  });
});
