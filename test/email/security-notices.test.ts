import { describe, expect, it } from "vitest";
import type { EmailMessage } from "../../src/email";
import { createVerifiedUser, PASSWORD, testClient, tokenFromEmail } from "../helpers";
import { createTwoFactorUser } from "../twofactor/support";

/** A notice says what happened and carries nothing that signs in, resets or identifies a secret. */
function expectSafeNotice(m: EmailMessage | undefined, subject: RegExp): void {
  expect(m, String(subject)).toBeDefined();
  expect(m!.subject).toMatch(subject);
  expect(m!.text).not.toMatch(/https?:\/\/|token|code=/i);
  expect(m!.html).not.toMatch(/<a\s|href=/i);
}

const noticesTo = (client: ReturnType<typeof testClient>, email: string, subject: RegExp) =>
  client.mailbox.to(email).filter((m) => subject.test(m.subject));

describe("security notices", () => {
  it("tells the account when its password is changed", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    const res = await client.call("POST", "/auth/password/change", {
      token: user.tokens.access_token,
      json: { current_password: PASSWORD, new_password: `${PASSWORD}-changed` },
    });
    expect(res.status).toBe(200);
    const notices = noticesTo(client, user.email, /password was changed/i);
    expect(notices).toHaveLength(1);
    expectSafeNotice(notices[0], /password was changed/i);
    expect(notices[0]!.text).not.toContain(`${PASSWORD}-changed`);
  });

  it("tells the account when its password is reset", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    await client.call("POST", "/auth/password/forgot", { json: { email: user.email } });
    const res = await client.call("POST", "/auth/password/reset", {
      json: { token: tokenFromEmail(client.mailbox.last(user.email)), new_password: `${PASSWORD}-reset` },
    });
    expect(res.status).toBe(200);
    const notices = noticesTo(client, user.email, /password was reset/i);
    expect(notices).toHaveLength(1);
    expectSafeNotice(notices[0], /password was reset/i);
  });

  it("tells the account when 2FA is turned on and off", async () => {
    const client = testClient();
    const user = await createTwoFactorUser(client);
    expectSafeNotice(noticesTo(client, user.email, /two-factor.*on/i)[0], /two-factor.*on/i);
    expect(noticesTo(client, user.email, /two-factor.*off/i)).toHaveLength(0);

    const off = await client.call("POST", "/auth/2fa/disable", {
      token: user.tokens.access_token,
      json: { code: user.recoveryCodes[0] },
    });
    expect(off.status).toBe(200);
    const notices = noticesTo(client, user.email, /two-factor.*off/i);
    expect(notices).toHaveLength(1);
    expectSafeNotice(notices[0], /two-factor.*off/i);
    expect(notices[0]!.text).not.toContain(user.recoveryCodes[0]!);
  });

  it("sends nothing when the change is refused", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    const before = client.mailbox.to(user.email).length;
    const res = await client.call("POST", "/auth/password/change", {
      token: user.tokens.access_token,
      json: { current_password: "wrong-password-entirely", new_password: `${PASSWORD}-changed` },
    });
    expect(res.status).toBe(401);
    expect(client.mailbox.to(user.email)).toHaveLength(before);
  });
});
