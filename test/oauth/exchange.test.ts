import { decodeJwt } from "jose";
import { describe, expect, it } from "vitest";
import { hashToken } from "../../src/auth/tokens";
import { auditActions, database, testClient, uniqueEmail } from "../helpers";
import { createTwoFactorUser } from "../twofactor/support";
import {
  ALLOWED_REDIRECT,
  FakeProviders,
  googleSignIn,
  googleSub,
  OAUTH_ENV,
  type OAuthHarness,
  oauthClient,
} from "./fake-providers";

const exchange = (harness: OAuthHarness, code: unknown) =>
  harness.client.call("POST", "/auth/oauth/exchange", { json: { code } });

/** A Google browser sign-in with redirect_to; returns the Location it redirected to. */
async function signInWithRedirect(harness: OAuthHarness, email = uniqueEmail("g")): Promise<URL> {
  const res = await googleSignIn(
    harness,
    { sub: googleSub(), email, email_verified: true },
    `?redirect_to=${encodeURIComponent(`${ALLOWED_REDIRECT}?tab=home`)}`,
  );
  expect(res.status).toBe(302);
  return new URL(res.headers.get("Location")!);
}

describe("OAuth redirect_to hands over a one-time code", () => {
  it("puts only a one-time code in the URL, exchanged once for tokens", async () => {
    const harness = oauthClient();
    const email = uniqueEmail("g");
    const location = await signInWithRedirect(harness, email);

    expect(`${location.origin}${location.pathname}`).toBe(ALLOWED_REDIRECT);
    expect(location.searchParams.get("tab")).toBe("home");
    expect(location.hash).toBe("");
    const code = location.searchParams.get("code")!;
    expect(code.length).toBeGreaterThanOrEqual(32);
    expect(location.href).not.toMatch(/access_token|refresh_token|eyJ/);
    // Stored by its hash only: the hash finds it, the code itself does not.
    const db = database();
    expect(await db.tokens.peek("sign_in_code", await hashToken(code), new Date())).not.toBeNull();
    expect(await db.tokens.peek("sign_in_code", code, new Date())).toBeNull();

    const first = await exchange(harness, code);
    expect(first.status).toBe(200);
    expect(first.headers.get("Cache-Control")).toContain("no-store");
    expect(first.body).toMatchObject({ token_type: "bearer", expires_in: 1800 });
    const me = await harness.client.call("GET", "/auth/me", { token: first.body.access_token });
    expect(me.body.email).toBe(email);
    expect(await auditActions(me.body.id)).toContain("login_succeeded");

    const second = await exchange(harness, code);
    expect(second.status).toBe(400);
    expect(second.body.code).toBe("invalid_code");
  });

  it("lets exactly one of many parallel exchanges win", async () => {
    const harness = oauthClient();
    const code = (await signInWithRedirect(harness)).searchParams.get("code")!;
    const results = await Promise.all(Array.from({ length: 6 }, () => exchange(harness, code)));
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    expect(results.filter((r) => r.status === 400 && r.body.code === "invalid_code")).toHaveLength(5);
  });

  it("expires after 60 seconds", async () => {
    let now = Date.now();
    const fake = new FakeProviders();
    const client = testClient({ fetch: fake.fetch, now: () => new Date(now) }, OAUTH_ENV);
    const harness = { client, fake };
    const code = (await signInWithRedirect(harness)).searchParams.get("code")!;
    now += 61_000;
    const late = await exchange(harness, code);
    expect(late.status).toBe(400);
    expect(late.body.code).toBe("invalid_code");
  });

  it("dates the session's proof at the provider's callback, not at the later exchange", async () => {
    let now = Date.now() - 120_000;
    const fake = new FakeProviders();
    const client = testClient({ fetch: fake.fetch, now: () => new Date(now) }, OAUTH_ENV);
    const harness = { client, fake };
    const provedAt = now;
    const code = (await signInWithRedirect(harness)).searchParams.get("code")!;
    now += 50_000;
    const exchanged = await exchange(harness, code);
    expect(exchanged.status).toBe(200);
    const claims = decodeJwt(exchanged.body.access_token) as { sid: string; auth_time: number; iat: number };
    expect(claims.auth_time).toBe(Math.floor(provedAt / 1000));
    expect(claims.iat).toBe(Math.floor(now / 1000));
    const db = database();
    try {
      expect((await db.sessions.findById(claims.sid))?.authenticatedAt).toEqual(new Date(provedAt));
    } finally {
      await db.close();
    }
  });

  it("answers mfa_required for a 2FA account, with no tokens", async () => {
    const harness = oauthClient();
    const user = await createTwoFactorUser(harness.client);
    const code = (await signInWithRedirect(harness, user.email)).searchParams.get("code")!;
    const res = await exchange(harness, code);
    expect(res.status).toBe(200);
    expect(res.body.mfa_required).toBe(true);
    expect(res.body.access_token).toBeUndefined();
  });

  it("refuses a code of an account disabled in the meantime", async () => {
    const harness = oauthClient();
    const email = uniqueEmail("g");
    const code = (await signInWithRedirect(harness, email)).searchParams.get("code")!;
    const db = database();
    const user = await db.users.findByEmail(email);
    await db.users.update(user!.id, { isActive: false }, new Date());
    const res = await exchange(harness, code);
    expect(res.status).toBe(403);
    expect(res.body.code).toBe("account_disabled");
  });

  it("answers 400 invalid_code for unknown codes and 422 for malformed bodies", async () => {
    const harness = oauthClient();
    const unknown = await exchange(harness, "a".repeat(43));
    expect(unknown.status).toBe(400);
    expect(unknown.body.code).toBe("invalid_code");
    for (const bad of [undefined, "", 42, "x".repeat(5000)]) {
      const res = await exchange(harness, bad);
      expect(res.status, String(bad)).toBe(422);
    }
  });

  it("documents the exchange route", async () => {
    const doc = await oauthClient().client.call("GET", "/openapi.json");
    const op = doc.body.paths["/auth/oauth/exchange"]?.post;
    expect(op).toBeDefined();
    expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(["200", "400", "403", "422", "429"]));
    expect(doc.body.paths["/auth/google/callback"].get.description).toContain("code");
  });
});
