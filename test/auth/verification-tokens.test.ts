import { describe, expect, it } from "vitest";
import { auditActions, database, PASSWORD, testClient, tokenFromEmail, uniqueEmail } from "../helpers";
import { googleIdTokenSignIn, googleSub, oauthClient } from "../oauth/fake-providers";

/** Registers `email` and asks for a second verification email: two live verification links. */
async function registerWithTwoLinks(
  client: ReturnType<typeof testClient>,
  email: string,
): Promise<[string, string]> {
  const reg = await client.call("POST", "/auth/register", { json: { email, password: PASSWORD } });
  expect(reg.status).toBe(202);
  const resend = await client.call("POST", "/auth/verify/resend", { json: { email } });
  expect(resend.status).toBe(202);
  const links = client.mailbox.to(email).map(tokenFromEmail);
  expect(links).toHaveLength(2);
  return [links[0]!, links[1]!];
}

const verify = (client: ReturnType<typeof testClient>, token: string) =>
  client.call("POST", "/auth/verify", { json: { token } });

describe("verification links die with verification", () => {
  it("verifying with one link kills every other outstanding link", async () => {
    const client = testClient();
    const email = uniqueEmail("twolinks");
    const [first, second] = await registerWithTwoLinks(client, email);

    expect((await verify(client, second)).status).toBe(200);
    const old = await verify(client, first);
    expect(old.status).toBe(400);
    expect(old.body.code).toBe("invalid_token");
    const user = await database().users.findByEmail(email);
    expect(user?.isVerified).toBe(true);
    expect((await auditActions(user!.id)).filter((a) => a === "email_verified")).toHaveLength(1);
  });

  it("two links spent at once verify (and promote) once", async () => {
    const email = uniqueEmail("race");
    const client = testClient({}, { ADMIN_EMAILS: email });
    const links = await registerWithTwoLinks(client, email);
    const results = await Promise.all(links.map((link) => verify(client, link)));
    expect(results.map((r) => r.status).sort()).toEqual([200, 400]);
    const user = await database().users.findByEmail(email);
    expect(user?.role).toBe("admin");
    const actions = await auditActions(user!.id);
    expect(actions.filter((a) => a === "email_verified")).toHaveLength(1);
    expect(actions.filter((a) => a === "role_promoted")).toHaveLength(1);
  });

  it("a password reset verifies the address and kills the verification links", async () => {
    const client = testClient();
    const email = uniqueEmail("resetverifies");
    const [first, second] = await registerWithTwoLinks(client, email);
    await client.call("POST", "/auth/password/forgot", { json: { email } });
    const reset = await client.call("POST", "/auth/password/reset", {
      json: { token: tokenFromEmail(client.mailbox.last(email)), new_password: `${PASSWORD}-new` },
    });
    expect(reset.status).toBe(200);
    const user = await database().users.findByEmail(email);
    expect(user?.isVerified).toBe(true);
    for (const link of [first, second]) {
      const res = await verify(client, link);
      expect(res.status).toBe(400);
      expect(res.body.code).toBe("invalid_token");
    }
    expect((await auditActions(user!.id)).filter((a) => a === "email_verified")).toHaveLength(1);
  });

  it("a Google sign-in that verifies the address kills the verification links", async () => {
    const harness = oauthClient();
    const email = uniqueEmail("googleverifies");
    const [first] = await registerWithTwoLinks(harness.client, email);
    const res = await googleIdTokenSignIn(harness, { sub: googleSub(), email, email_verified: true });
    expect(res.status).toBe(200);
    expect((await database().users.findByEmail(email))?.isVerified).toBe(true);
    const old = await verify(harness.client, first);
    expect(old.status).toBe(400);
    expect(old.body.code).toBe("invalid_token");
  });

  it("an old link cannot re-promote a demoted ADMIN_EMAILS account", async () => {
    const email = uniqueEmail("demoted");
    const client = testClient({}, { ADMIN_EMAILS: email });
    const [first, second] = await registerWithTwoLinks(client, email);
    const verified = await verify(client, second);
    expect(verified.status).toBe(200);
    expect(verified.body.role).toBe("admin");

    // Another admin demotes the account (the admin route's storage call, to keep the test short).
    const db = database();
    await db.users.update(verified.body.id, { role: "user" }, new Date());

    const replay = await verify(client, first);
    expect(replay.status).toBe(400);
    expect(replay.body.code).toBe("invalid_token");
    expect((await db.users.findById(verified.body.id))?.role).toBe("user");
    expect((await auditActions(verified.body.id)).filter((a) => a === "role_promoted")).toHaveLength(1);
  });

  it("a link still live in the store changes nothing on an already verified account", async () => {
    const email = uniqueEmail("stale");
    const client = testClient({}, { ADMIN_EMAILS: email });
    const [first, second] = await registerWithTwoLinks(client, email);
    const verified = await verify(client, second);
    const db = database();
    // What a link issued before this release looks like: verified account, token never invalidated.
    const { hashToken } = await import("../../src/auth/tokens");
    const stale = `stale-${crypto.randomUUID()}`;
    await db.tokens.create({
      tokenHash: await hashToken(stale),
      purpose: "email_verification",
      userId: verified.body.id,
      expiresAt: new Date(Date.now() + 3_600_000),
      now: new Date(),
    });
    await db.users.update(verified.body.id, { role: "user" }, new Date());

    const res = await verify(client, stale);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe("invalid_token");
    expect((await db.users.findById(verified.body.id))?.role).toBe("user");
    expect(first).not.toBe(second);
  });
});
