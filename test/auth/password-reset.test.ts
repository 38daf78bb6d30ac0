import { describe, expect, it } from "vitest";
import {
  auditActions,
  auditEntries,
  createVerifiedUser,
  PASSWORD,
  testClient,
  tokenFromEmail,
  uniqueEmail,
} from "../helpers";

const NEW_PASSWORD = "a-brand-new-passphrase-42";

describe("password reset and change", () => {
  it("forgot answers the same for known and unknown emails", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    const known = await client.call("POST", "/auth/password/forgot", { json: { email: user.email } });
    const unknown = await client.call("POST", "/auth/password/forgot", { json: { email: uniqueEmail() } });
    expect(known.status).toBe(202);
    expect(unknown.status).toBe(202);
    expect(known.body).toEqual(unknown.body);
    expect(client.mailbox.last(user.email).text).toContain(
      "https://auth.example.test/auth/password/reset?token=",
    );
  });

  it("resets once, revokes every session, and the old password stops working", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    await client.call("POST", "/auth/password/forgot", { json: { email: user.email } });
    const token = tokenFromEmail(client.mailbox.last(user.email));

    const page = await client.call("GET", `/auth/password/reset?token=${token}`);
    expect(page.status).toBe(200);
    expect(page.text).toContain('name="new_password"');

    const weak = await client.call("POST", "/auth/password/reset", {
      json: { token, new_password: "password" },
    });
    expect(weak.status).toBe(422);
    const ok = await client.call("POST", "/auth/password/reset", {
      json: { token, new_password: NEW_PASSWORD },
    });
    expect(ok.status).toBe(200);
    const again = await client.call("POST", "/auth/password/reset", {
      json: { token, new_password: NEW_PASSWORD },
    });
    expect(again.status).toBe(400);
    expect(again.body.code).toBe("invalid_token");

    expect((await client.call("GET", "/auth/me", { token: user.tokens.access_token })).status).toBe(401);
    expect(
      (await client.call("POST", "/auth/login", { json: { email: user.email, password: PASSWORD } })).status,
    ).toBe(401);
    expect(
      (await client.call("POST", "/auth/login", { json: { email: user.email, password: NEW_PASSWORD } }))
        .status,
    ).toBe(200);
    expect(await auditActions(user.id)).toEqual(
      expect.arrayContaining(["password_reset_requested", "password_reset"]),
    );
  });

  it("change needs the current password and revokes the other sessions only", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    const other = await client.call("POST", "/auth/login", {
      json: { email: user.email, password: PASSWORD },
    });
    const wrong = await client.call("POST", "/auth/password/change", {
      token: user.tokens.access_token,
      json: { current_password: "nope-nope-nope", new_password: NEW_PASSWORD },
    });
    expect(wrong.status).toBe(401);
    const ok = await client.call("POST", "/auth/password/change", {
      token: user.tokens.access_token,
      json: { current_password: PASSWORD, new_password: NEW_PASSWORD },
    });
    expect(ok.status).toBe(200);
    expect((await client.call("GET", "/auth/me", { token: user.tokens.access_token })).status).toBe(200);
    expect((await client.call("GET", "/auth/me", { token: other.body.access_token })).status).toBe(401);
    expect(await auditActions(user.id)).toContain("password_changed");
  });

  it("never writes a secret into audit metadata", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    await client.call("POST", "/auth/login", { json: { email: user.email, password: "wrong-password-1" } });
    await client.call("POST", "/auth/password/forgot", { json: { email: user.email } });
    const token = tokenFromEmail(client.mailbox.last(user.email));
    await client.call("POST", "/auth/password/reset", { json: { token, new_password: NEW_PASSWORD } });
    const dump = JSON.stringify(await auditEntries(user.id));
    for (const secret of [
      PASSWORD,
      NEW_PASSWORD,
      "wrong-password-1",
      token,
      user.tokens.refresh_token,
      user.tokens.access_token,
    ]) {
      expect(dump).not.toContain(secret);
    }
  });
});
