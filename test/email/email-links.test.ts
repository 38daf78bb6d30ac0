import { describe, expect, it } from "vitest";
import type { EmailMessage } from "../../src/email";
import * as templates from "../../src/email/templates";
import { BASE, createVerifiedUser, PASSWORD, testClient, uniqueEmail } from "../helpers";
import { createTwoFactorUser } from "../twofactor/support";

/** Every link of a message, from the text part and the HTML part's hrefs. */
function linksOf(m: EmailMessage): string[] {
  const text = m.text.match(/https?:\/\/[^\s<>"']+/g) ?? [];
  const html = [...m.html.matchAll(/href="([^"]+)"/g)].map((x) => x[1]!.replaceAll("&#38;", "&"));
  return [...new Set([...text, ...html])];
}

describe("every link in every email opens a working page", () => {
  it("sends each template and follows each of its links", async () => {
    const client = testClient();

    // Verification, then "already registered" for the same address.
    const fresh = uniqueEmail("links");
    await client.call("POST", "/auth/register", { json: { email: fresh, password: PASSWORD } });
    await client.call("POST", "/auth/register", { json: { email: fresh, password: PASSWORD } });
    // A taken username: the same 202, and an email to the second address.
    const named = `links_${Date.now().toString(36)}`;
    await client.call("POST", "/auth/register", {
      json: { email: uniqueEmail("named"), password: PASSWORD, username: named },
    });
    await client.call("POST", "/auth/register", {
      json: { email: uniqueEmail("named2"), password: PASSWORD, username: named.toUpperCase() },
    });
    // Password reset, password changed, password reset notice.
    const user = await createVerifiedUser(client);
    await client.call("POST", "/auth/password/forgot", { json: { email: user.email } });
    await client.call("POST", "/auth/password/change", {
      token: user.tokens.access_token,
      json: { current_password: PASSWORD, new_password: `${PASSWORD}-2` },
    });
    // The throttle email: repeated failed sign-ins.
    for (let i = 0; i < 12; i++)
      await client.call("POST", "/auth/login", { json: { email: user.email, password: `wrong-${i}-pass` } });
    // 2FA on (a notice).
    await createTwoFactorUser(client);
    // Email sign-in: a link and a code.
    await client.call("POST", "/auth/email-login", { json: { email: uniqueEmail("emaillogin") } });
    // An email change: the link to the new address, then the notice to the old one.
    const mover = await createVerifiedUser(client);
    const moved = uniqueEmail("moved");
    await client.call("POST", "/auth/email/change", {
      token: mover.tokens.access_token,
      json: { new_email: moved },
    });

    const sent = client.mailbox.sent;
    const subjects = new Set(sent.map((m) => m.subject));
    for (const expected of [
      /Verify your email/,
      /already have/,
      /Reset your .* password/,
      /Unusual sign-in attempts/,
      /password was changed/,
      /Two-factor authentication is on/,
      /Choose another .* username/,
      /Sign in to/,
      /Confirm your new email address/,
    ])
      expect(
        [...subjects].some((s) => expected.test(s)),
        String(expected),
      ).toBe(true);

    const taken = sent.find((m) => /Choose another .* username/.test(m.subject));
    expect(linksOf(taken!)).toEqual([`${BASE}/signup`]);
    const links = [...new Set(sent.flatMap(linksOf))];
    expect(links.length).toBeGreaterThanOrEqual(4);
    for (const link of links) {
      const url = new URL(link);
      expect(url.origin, link).toBe(BASE);
      const res = await client.call("GET", `${url.pathname}${url.search}`);
      expect(res.status, `${link} answered ${res.status}`).toBe(200);
      expect(res.headers.get("Content-Type"), link).toContain("text/html");
    }
  });

  it("covers every template (a new one must be added to the test above)", () => {
    const names = Object.keys(templates)
      .filter((k) => k.endsWith("Email"))
      .sort();
    expect(names).toEqual([
      "accountThrottledEmail",
      "alreadyRegisteredEmail",
      "emailChangeEmail",
      "emailLoginEmail",
      "passwordResetEmail",
      "securityNoticeEmail",
      "usernameTakenEmail",
      "verificationEmail",
    ]);
  });

  it("the forgot-password page posts the address and answers with a page", async () => {
    const client = testClient();
    const page = await client.call("GET", "/auth/password/forgot");
    expect(page.status).toBe(200);
    expect(page.headers.get("Content-Security-Policy")).toContain("form-action 'self'");
    expect(page.text).toContain('action="/auth/password/forgot"');
    const user = await createVerifiedUser(client);
    const before = client.mailbox.to(user.email).length;
    const posted = await client.call("POST", "/auth/password/forgot", { form: { email: user.email } });
    expect(posted.status).toBe(202);
    expect(posted.headers.get("Content-Type")).toContain("text/html");
    expect(client.mailbox.to(user.email)).toHaveLength(before + 1);
    expect(client.mailbox.last(user.email).subject).toMatch(/Reset your/);
  });
});
