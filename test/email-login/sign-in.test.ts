import { decodeJwt } from "jose";
import { describe, expect, it } from "vitest";
import { newId } from "../../src/lib/crypto";
import {
  auditEntries,
  createVerifiedUser,
  database,
  PASSWORD,
  testClient,
  tokenFromEmail,
  uniqueEmail,
} from "../helpers";
import { fakeClock } from "../support/clock";
import { rawSql } from "../support/raw-sql";
import { createTwoFactorUser } from "../twofactor/support";
import { codeFromEmail, pendingRows, requestEmailLogin, verifyCode, verifyLink } from "./support";

const me = (client: ReturnType<typeof testClient>, token: string) =>
  client.call("GET", "/auth/me", { token });

describe("email sign-in: request and link", () => {
  it("mails one link and one code, stores only their hashes, and the link signs in", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    const { token, code, message } = await requestEmailLogin(client, user.email);
    expect(message.text).toContain(`https://auth.example.test/auth/email-login?token=${token}`);
    expect(message.subject).not.toContain(code);
    expect(token.length).toBeGreaterThanOrEqual(43); // 32 random bytes, base64url

    const [row, ...others] = await pendingRows(user.email.toLowerCase());
    expect(others).toHaveLength(0);
    expect(row!.user_id).toBe(user.id);
    const stored = JSON.stringify(row);
    expect(stored).not.toContain(token);
    expect(stored).not.toContain(`"${code}"`);
    expect(row!.token_hash).not.toBe(token);

    const res = await verifyLink(client, token);
    expect(res.status).toBe(200);
    expect(res.headers.get("Cache-Control")).toBe("no-store");
    expect(Object.keys(res.body).sort()).toEqual([
      "access_token",
      "expires_in",
      "refresh_token",
      "token_type",
    ]);
    expect((await me(client, res.body.access_token)).body.id).toBe(user.id);
    const entries = await auditEntries(user.id);
    const login = entries.find((e) => e.action === "email_login");
    expect(login?.metadata).toEqual({ via: "link", created: false, takeover: false });
    expect(entries.find((e) => e.action === "email_login_requested")?.metadata).toEqual({ outcome: "sent" });
    // Nothing secret in any entry.
    expect(JSON.stringify(entries)).not.toContain(token);
    expect(JSON.stringify(entries.map((e) => e.metadata))).not.toContain(code);
  });

  it("the code signs in on another device, and either one spends the other", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    const first = await requestEmailLogin(client, user.email);
    const byCode = await verifyCode(client, user.email.toUpperCase(), first.code);
    expect(byCode.status).toBe(200);
    const spent = await verifyLink(client, first.token);
    expect(spent.status).toBe(400);
    expect(spent.body.code).toBe("invalid_token");

    const second = await requestEmailLogin(client, user.email);
    expect((await verifyLink(client, second.token)).status).toBe(200);
    const again = await client.call("POST", "/auth/email-login/verify", {
      json: { email: user.email, otp: second.code },
    });
    expect(again.status).toBe(400);
    expect(again.body.code).toBe("invalid_code");
    const actions = (await auditEntries(user.id)).filter((e) => e.action === "email_login");
    expect(actions.map((e) => e.metadata.via).sort()).toEqual(["code", "link"]);
  });

  it("accepts `otp` for the code, and a code typed with a space", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    const { code } = await requestEmailLogin(client, user.email);
    const res = await client.call("POST", "/auth/email-login/verify", {
      json: { email: user.email, otp: `${code.slice(0, 3)} ${code.slice(3)}` },
    });
    expect(res.status).toBe(200);
    expect(res.body.token_type).toBe("bearer");
  });

  it("GET shows a page whose button posts the token, and spends nothing", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    const { token } = await requestEmailLogin(client, user.email);
    for (let i = 0; i < 3; i++) {
      const page = await client.call("GET", `/auth/email-login?token=${token}`);
      expect(page.status).toBe(200);
      expect(page.headers.get("Content-Type")).toMatch(/text\/html/);
      expect(page.headers.get("Content-Security-Policy")).toMatch(/default-src 'none'/);
      expect(page.headers.get("Content-Security-Policy")).toMatch(/form-action 'self'/);
      expect(page.text).toContain('action="/auth/email-login/verify"');
      expect(page.text).toContain(`value="${token}"`);
      // Only the hosted page's own script, under the response's nonce (src/pages).
      expect(page.text).not.toMatch(/<script(?![^>]*\snonce=)/);
    }
    expect((await pendingRows(user.email.toLowerCase()))[0]!.consumed_at).toBeNull();
    // The button: a form post of the token signs in.
    const posted = await client.call("POST", "/auth/email-login/verify", { form: { token } });
    expect(posted.status).toBe(200);
    expect(posted.headers.get("Cache-Control")).toBe("no-store");
    expect((await me(client, posted.body.access_token)).status).toBe(200);
  });

  it("a GET with a broken token shows a page, not an error", async () => {
    const client = testClient();
    const res = await client.call("GET", "/auth/email-login?token=%3Cscript%3E");
    expect(res.status).toBe(400);
    expect(res.text).not.toContain("<script>");
    expect(res.headers.get("Content-Security-Policy")).toMatch(/default-src 'none'/);
  });

  it("EMAIL_LOGIN_URL sends the link to a frontend", async () => {
    const client = testClient({}, { EMAIL_LOGIN_URL: "https://app.example.test/magic" });
    const email = uniqueEmail("frontend");
    const { token, message } = await requestEmailLogin(client, email);
    expect(message.text).toContain(`https://app.example.test/magic?token=${token}`);
    expect(message.text).not.toContain("auth.example.test/auth/email-login");
  });

  it("is valid for 10 minutes", async () => {
    const clock = fakeClock();
    const client = testClient();
    const user = await createVerifiedUser(client);
    const first = await requestEmailLogin(client, user.email);
    clock.advance(10 * 60_000 - 1_000);
    expect((await verifyLink(client, first.token)).status).toBe(200);
    const second = await requestEmailLogin(client, user.email);
    clock.advance(10 * 60_000);
    expect((await verifyLink(client, second.token)).body.code).toBe("invalid_token");
    expect((await verifyCode(client, user.email, second.code)).body.code).toBe("invalid_code");
  });
});

describe("email sign-in: accounts", () => {
  it("an unknown address gets a new verified account without a password (ADMIN_EMAILS promoted once)", async () => {
    const email = uniqueEmail("newbie");
    const client = testClient({}, { ADMIN_EMAILS: email });
    const { code } = await requestEmailLogin(client, email);
    const res = await verifyCode(client, email, code);
    expect(res.status).toBe(200);
    const profile = await me(client, res.body.access_token);
    expect(profile.body).toMatchObject({ email, is_verified: true, role: "admin", providers: [] });
    const stored = await database().users.findByEmail(email);
    expect(stored?.passwordHash).toBeNull();
    const entries = await auditEntries(profile.body.id);
    expect(entries.filter((e) => e.action === "email_verified")).toHaveLength(1);
    expect(entries.filter((e) => e.action === "role_promoted")).toHaveLength(1);
    expect(entries.find((e) => e.action === "email_login")?.metadata).toMatchObject({ created: true });
    // A second sign-in neither creates nor promotes again.
    const again = await requestEmailLogin(client, email);
    expect((await verifyLink(client, again.token)).status).toBe(200);
    const after = await auditEntries(profile.body.id);
    expect(after.filter((e) => e.action === "role_promoted")).toHaveLength(1);
    expect(after.filter((e) => e.action === "email_verified")).toHaveLength(1);
  });

  it("EMAIL_LOGIN_SIGNUP=false: an unknown address gets the same 202 and no email", async () => {
    const client = testClient({}, { EMAIL_LOGIN_SIGNUP: "false" });
    const email = uniqueEmail("nosignup");
    const res = await client.call("POST", "/auth/email-login", { json: { email } });
    expect(res.status).toBe(202);
    expect(client.mailbox.to(email)).toHaveLength(0);
    expect(await pendingRows(email.toLowerCase())).toHaveLength(0);
    expect(await database().users.findByEmail(email)).toBeNull();
    // A known address still signs in.
    const user = await createVerifiedUser(client);
    const known = await client.call("POST", "/auth/email-login", { json: { email: user.email } });
    expect(known.body).toEqual(res.body);
    expect((await verifyLink(client, tokenFromEmail(client.mailbox.last(user.email)))).status).toBe(200);
  });

  it("the session counts as recently authenticated (auth_time is the proof)", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    const { token } = await requestEmailLogin(client, user.email);
    const before = Math.floor(Date.now() / 1000);
    const res = await verifyLink(client, token);
    const claims = decodeJwt(res.body.access_token);
    expect(claims.auth_time).toBeGreaterThanOrEqual(before - 1);
    // A [recent] route accepts the session.
    const setup = await client.call("POST", "/auth/2fa/setup", { token: res.body.access_token });
    expect(setup.status).toBe(200);
  });

  it("a 2FA account answers mfa_required, then the second factor signs in", async () => {
    const client = testClient();
    const user = await createTwoFactorUser(client);
    const { token } = await requestEmailLogin(client, user.email);
    const res = await verifyLink(client, token);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ mfa_required: true, mfa_token: expect.any(String), expires_in: 300 });
    const second = await client.call("POST", "/auth/2fa/verify", {
      json: { mfa_token: res.body.mfa_token, code: user.recoveryCodes[0] },
    });
    expect(second.status).toBe(200);
    expect((await me(client, second.body.access_token)).body.id).toBe(user.id);
    const entries = await auditEntries(user.id);
    expect(entries.find((e) => e.action === "email_login")?.metadata).toMatchObject({ mfa_required: true });
    expect(entries.some((e) => e.action === "login_succeeded" && e.metadata.method === "email_login")).toBe(
      true,
    );
  });

  it("a disabled account is refused only after the proof", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    const { token, code } = await requestEmailLogin(client, user.email);
    await database().users.update(user.id, { isActive: false }, new Date());
    const wrong = await verifyLink(client, `${token.slice(0, -2)}AA`);
    expect(wrong.status).toBe(400);
    const res = await verifyLink(client, token);
    expect(res.status).toBe(403);
    expect(res.body.code).toBe("account_disabled");
    // The proof is spent either way.
    expect((await verifyCode(client, user.email, code)).body.code).toBe("invalid_code");
    expect((await auditEntries(user.id)).some((e) => e.action === "email_login")).toBe(false);
  });

  it("verifies an unverified account, kills its verification links and the password nobody proved", async () => {
    const client = testClient();
    const email = uniqueEmail("preregistered");
    // Someone registered the address with a password and never verified it.
    await client.call("POST", "/auth/register", { json: { email, password: PASSWORD } });
    const verificationLink = tokenFromEmail(client.mailbox.last(email));
    const { code } = await requestEmailLogin(client, email);
    expect(codeFromEmail(client.mailbox.last(email))).toBe(code);
    const res = await verifyCode(client, email, code);
    expect(res.status).toBe(200);
    const profile = await me(client, res.body.access_token);
    expect(profile.body).toMatchObject({ is_verified: true, providers: [] });
    const old = await client.call("POST", "/auth/verify", { json: { token: verificationLink } });
    expect(old.status).toBe(400);
    expect(old.body.code).toBe("invalid_token");
    const login = await client.call("POST", "/auth/login", { json: { email, password: PASSWORD } });
    expect(login.status).toBe(401);
    const entries = await auditEntries(profile.body.id);
    expect(entries.find((e) => e.action === "email_login")?.metadata).toMatchObject({ takeover: true });
  });

  it("a request made for an account does not sign in to another account that took the address later", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    const { token } = await requestEmailLogin(client, user.email);
    // The account's address changes (an email change) before the link is used, and a new account
    // takes the old address.
    const moved = uniqueEmail("moved");
    await rawSql("UPDATE users SET email = ?, email_lower = ? WHERE id = ?", [
      moved,
      moved.toLowerCase(),
      user.id,
    ]);
    const db = database();
    const other = await db.users.create({
      id: newId(),
      email: user.email,
      fullName: null,
      passwordHash: null,
      role: "user",
      isVerified: true,
      now: new Date(),
    });
    expect(other).not.toBeNull();
    const res = await verifyLink(client, token);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe("invalid_token");
  });
});
