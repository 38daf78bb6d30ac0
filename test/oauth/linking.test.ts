import { describe, expect, it } from "vitest";
import { hashToken } from "../../src/auth/tokens";
import { auditEntries, createVerifiedUser, database, PASSWORD, uniqueEmail } from "../helpers";
import {
  ALLOWED_REDIRECT,
  googleIdTokenSignIn,
  googleSignIn,
  googleSub,
  oauthClient,
} from "./fake-providers";

describe("linking a provider identity to an account", () => {
  it("links a provider-verified email to the verified account that owns it", async () => {
    const harness = oauthClient();
    const user = await createVerifiedUser(harness.client);
    const res = await googleIdTokenSignIn(harness, {
      sub: googleSub(),
      email: user.email.toUpperCase(),
      email_verified: true,
    });
    expect(res.status).toBe(200);
    const me = await harness.client.call("GET", "/auth/me", { token: res.body.access_token });
    expect(me.body.id).toBe(user.id);
    expect(me.body.providers).toEqual(["password", "google"]);
    const linked = (await auditEntries(user.id)).find((e) => e.action === "oauth_linked");
    expect(linked?.metadata).toEqual({ provider: "google", takeover: false });
    // The password keeps working: nothing about the account changed but the new way in.
    const login = await harness.client.call("POST", "/auth/login", {
      json: { email: user.email, password: PASSWORD },
    });
    expect(login.status).toBe(200);
  });

  it("never links (or creates) on an unverified provider email, answering the same for known and unknown addresses", async () => {
    const harness = oauthClient();
    const user = await createVerifiedUser(harness.client);
    const known = await googleIdTokenSignIn(harness, {
      sub: googleSub(),
      email: user.email,
      email_verified: false,
    });
    const freshEmail = uniqueEmail("nobody");
    const unknown = await googleIdTokenSignIn(harness, {
      sub: googleSub(),
      email: freshEmail,
      email_verified: false,
    });

    expect(known.status).toBe(403);
    expect(known.body.code).toBe("email_not_verified");
    const strip = (b: Record<string, unknown>) => ({ ...b, request_id: undefined });
    expect(strip(known.body)).toEqual(strip(unknown.body));
    const me = await harness.client.call("GET", "/auth/me", { token: user.tokens.access_token });
    expect(me.body.providers).toEqual(["password"]);
    expect(await auditEntries(user.id)).not.toContainEqual(
      expect.objectContaining({ action: "oauth_linked" }),
    );
    expect(await database().users.findByEmail(freshEmail)).toBeNull();
  });

  it("keys accounts by provider identity, not email: a changed email at Google still reaches the same account", async () => {
    const harness = oauthClient();
    const sub = googleSub();
    const first = await googleIdTokenSignIn(harness, { sub, email: uniqueEmail("a"), email_verified: true });
    const newEmail = uniqueEmail("b");
    const second = await googleIdTokenSignIn(harness, { sub, email: newEmail, email_verified: true });
    const a = await harness.client.call("GET", "/auth/me", { token: first.body.access_token });
    const b = await harness.client.call("GET", "/auth/me", { token: second.body.access_token });
    expect(b.body.id).toBe(a.body.id);
    expect(await database().users.findByEmail(newEmail)).toBeNull();
  });

  it("takes over an unverified password account safely: password cleared, sessions revoked, audited", async () => {
    const harness = oauthClient();
    const email = uniqueEmail("victim");
    // Someone pre-registers the victim's address with a password they know, and never verifies it.
    const reg = await harness.client.call("POST", "/auth/register", { json: { email, password: PASSWORD } });
    expect(reg.status).toBe(202);
    const db = database();
    const squatter = (await db.users.findByEmail(email))!;
    const now = new Date();
    const oldRefresh = `old-refresh-${crypto.randomUUID()}`;
    await db.sessions.create({
      id: crypto.randomUUID(),
      userId: squatter.id,
      refreshHash: await hashToken(oldRefresh),
      expiresAt: new Date(now.getTime() + 86_400_000),
      ip: null,
      userAgent: null,
      now,
    });

    const res = await googleSignIn(harness, { sub: googleSub(), email, email_verified: true });

    expect(res.status).toBe(200);
    const me = await harness.client.call("GET", "/auth/me", { token: res.body.access_token });
    expect(me.body).toMatchObject({ id: squatter.id, is_verified: true, providers: ["google"] });
    const login = await harness.client.call("POST", "/auth/login", { json: { email, password: PASSWORD } });
    expect(login.status).toBe(401);
    expect(login.body.code).toBe("invalid_credentials");
    const refresh = await harness.client.call("POST", "/auth/refresh", {
      json: { refresh_token: oldRefresh },
    });
    expect(refresh.status).toBe(401);
    const entries = await auditEntries(squatter.id);
    expect(entries.find((e) => e.action === "oauth_linked")?.metadata).toEqual({
      provider: "google",
      takeover: true,
    });
  });

  it("refuses a disabled account", async () => {
    const harness = oauthClient();
    const sub = googleSub();
    const first = await googleIdTokenSignIn(harness, { sub, email: uniqueEmail("d"), email_verified: true });
    const me = await harness.client.call("GET", "/auth/me", { token: first.body.access_token });
    await database().users.update(me.body.id, { isActive: false }, new Date());
    const res = await googleIdTokenSignIn(harness, { sub, email: me.body.email, email_verified: true });
    expect(res.status).toBe(403);
    expect(res.body.code).toBe("account_disabled");

    const other = await createVerifiedUser(harness.client);
    await database().users.update(other.id, { isActive: false }, new Date());
    const linkAttempt = await googleIdTokenSignIn(harness, {
      sub: googleSub(),
      email: other.email,
      email_verified: true,
    });
    expect(linkAttempt.status).toBe(403);
    expect(linkAttempt.body.code).toBe("account_disabled");
  });

  it("creates ADMIN_EMAILS users as admins", async () => {
    const email = uniqueEmail("boss");
    const harness = oauthClient({ ADMIN_EMAILS: email.toUpperCase() });
    const res = await googleIdTokenSignIn(harness, { sub: googleSub(), email, email_verified: true });
    const me = await harness.client.call("GET", "/auth/me", { token: res.body.access_token });
    expect(me.body.role).toBe("admin");
  });
});

describe("two-factor accounts", () => {
  async function withTwoFactor(userId: string): Promise<void> {
    const db = database();
    const now = new Date();
    await db.twoFactor.setPending(userId, "test-secret-ciphertext", now);
    expect(await db.twoFactor.enable(userId, "test-secret-ciphertext", 1, [], now)).toBe(true);
  }

  it("stops at mfa_required, as JSON and through a redirect's one-time code", async () => {
    const harness = oauthClient();
    const user = await createVerifiedUser(harness.client);
    await withTwoFactor(user.id);

    const res = await googleIdTokenSignIn(harness, {
      sub: googleSub(),
      email: user.email,
      email_verified: true,
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ mfa_required: true, mfa_token: expect.any(String), expires_in: 300 });
    expect(res.body.access_token).toBeUndefined();

    const redirected = await googleSignIn(
      harness,
      { sub: googleSub(), email: user.email, email_verified: true },
      `?redirect_to=${encodeURIComponent(ALLOWED_REDIRECT)}`,
    );
    expect(redirected.status).toBe(302);
    const location = new URL(redirected.headers.get("Location")!);
    expect(location.hash).toBe("");
    const exchanged = await harness.client.call("POST", "/auth/oauth/exchange", {
      json: { code: location.searchParams.get("code") },
    });
    expect(exchanged.body).toEqual({ mfa_required: true, mfa_token: expect.any(String), expires_in: 300 });
    expect(await auditEntries(user.id)).not.toContainEqual(
      expect.objectContaining({ action: "login_succeeded", metadata: { method: "google" } }),
    );
  });
});
