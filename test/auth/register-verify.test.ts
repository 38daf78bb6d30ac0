import { describe, expect, it } from "vitest";
import {
  auditActions,
  createVerifiedUser,
  database,
  PASSWORD,
  testClient,
  tokenFromEmail,
  uniqueEmail,
} from "../helpers";

describe("register and verify", () => {
  it("registers, emails a link, and verifies once", async () => {
    const client = testClient();
    const email = uniqueEmail();
    const reg = await client.call("POST", "/auth/register", {
      json: { email, password: PASSWORD, full_name: "Ada" },
    });
    expect(reg.status).toBe(202);
    expect(reg.body.detail).toBeTypeOf("string");
    const mail = client.mailbox.last(email);
    expect(mail.text).toContain("https://auth.example.test/auth/verify?token=");
    const token = tokenFromEmail(mail);

    const ok = await client.call("POST", "/auth/verify", { json: { token } });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({
      email,
      full_name: "Ada",
      is_verified: true,
      role: "user",
      providers: ["password"],
    });
    expect(JSON.stringify(ok.body)).not.toMatch(/scrypt|password_hash/);

    const again = await client.call("POST", "/auth/verify", { json: { token } });
    expect(again.status).toBe(400);
    expect(again.body.code).toBe("invalid_token");
    expect(again.headers.get("Content-Type")).toContain("application/problem+json");
    expect(await auditActions(ok.body.id)).toEqual(expect.arrayContaining(["register", "email_verified"]));
  });

  it("answers an existing email exactly like a new one and emails the owner instead", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    const fresh = await client.call("POST", "/auth/register", {
      json: { email: uniqueEmail(), password: PASSWORD },
    });
    const dup = await client.call("POST", "/auth/register", {
      json: { email: `  ${user.email.toUpperCase()} `, password: PASSWORD },
    });
    expect(dup.status).toBe(fresh.status);
    expect(dup.body).toEqual(fresh.body);
    expect(client.mailbox.last(user.email).subject).toMatch(/already have/);
    const db = database();
    const { items } = await db.users.list({ limit: 100, emailPrefix: user.email.toLowerCase() });
    expect(items).toHaveLength(1);
  });

  it("refuses weak passwords with a reason", async () => {
    const client = testClient();
    const email = uniqueEmail();
    for (const password of ["short", "password123", "qwertyuiop", email]) {
      const res = await client.call("POST", "/auth/register", { json: { email, password } });
      expect(res.status).toBe(422);
      expect(res.body.code).toBe("weak_password");
      expect(res.body.errors[0].path).toBe("password");
    }
    expect(client.mailbox.to(email)).toHaveLength(0);
  });

  it("refuses invalid emails with 422", async () => {
    const client = testClient();
    for (const email of [
      "nope",
      "a@b",
      "a b@example.com",
      "a@exa_mple.com",
      `${"a".repeat(250)}@example.com`,
    ]) {
      const res = await client.call("POST", "/auth/register", { json: { email, password: PASSWORD } });
      expect(res.status, email).toBe(422);
      expect(res.body.errors[0].path).toBe("email");
    }
  });

  it("resend answers 202 for known and unknown addresses and only mails the unverified owner", async () => {
    const client = testClient();
    const email = uniqueEmail();
    await client.call("POST", "/auth/register", { json: { email, password: PASSWORD } });
    const known = await client.call("POST", "/auth/verify/resend", { json: { email } });
    const unknown = await client.call("POST", "/auth/verify/resend", { json: { email: uniqueEmail() } });
    expect(known.status).toBe(202);
    expect(unknown.status).toBe(202);
    expect(known.body).toEqual(unknown.body);
    expect(client.mailbox.to(email)).toHaveLength(2);
    // The newest link works.
    const ok = await client.call("POST", "/auth/verify", {
      json: { token: tokenFromEmail(client.mailbox.last(email)) },
    });
    expect(ok.status).toBe(200);
  });

  it("GET /auth/verify serves a form and does not consume the token", async () => {
    const client = testClient();
    const email = uniqueEmail();
    await client.call("POST", "/auth/register", { json: { email, password: PASSWORD } });
    const token = tokenFromEmail(client.mailbox.last(email));
    const page = await client.call("GET", `/auth/verify?token=${token}`);
    expect(page.status).toBe(200);
    expect(page.headers.get("Content-Type")).toContain("text/html");
    expect(page.headers.get("Content-Security-Policy")).toContain("default-src 'none'");
    expect(page.text).toContain('method="post" action="/auth/verify"');
    expect(page.text).toContain(token);
    // A second GET (mail scanner + human) and then the form post still work.
    await client.call("GET", `/auth/verify?token=${token}`);
    const posted = await client.call("POST", "/auth/verify", { form: { token } });
    expect(posted.status).toBe(200);
    expect(posted.text).toContain("Email verified");
    const login = await client.call("POST", "/auth/login", { json: { email, password: PASSWORD } });
    expect(login.status).toBe(200);
  });

  it("promotes ADMIN_EMAILS accounts when they verify", async () => {
    const email = uniqueEmail("boss");
    const client = testClient({}, { ADMIN_EMAILS: `someone@example.com, ${email.toUpperCase()}` });
    await client.call("POST", "/auth/register", { json: { email, password: PASSWORD } });
    const ok = await client.call("POST", "/auth/verify", {
      json: { token: tokenFromEmail(client.mailbox.last(email)) },
    });
    expect(ok.body.role).toBe("admin");
  });
});
