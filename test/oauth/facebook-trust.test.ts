import { describe, expect, it } from "vitest";
import {
  auditActions,
  auditEntries,
  createVerifiedUser,
  database,
  PASSWORD,
  testClient,
  uniqueEmail,
} from "../helpers";
import { callback, type OAuthHarness, oauthClient } from "./fake-providers";

const fbId = (): string => `${Math.floor(Math.random() * 1e15)}`;

const facebookSignIn = (harness: OAuthHarness, user: { id: string; email?: string; name?: string }) =>
  harness.client.call("POST", "/auth/facebook", {
    json: { access_token: harness.fake.facebookToken(user) },
  });

/** The browser flow with ?link=true and the caller's bearer token. */
async function linkFacebook(
  harness: OAuthHarness,
  accessToken: string,
  user: { id: string; email?: string },
) {
  const res = await harness.client.call("GET", "/auth/facebook/authorize?link=true", { token: accessToken });
  expect(res.status).toBe(302);
  const location = new URL(res.headers.get("Location")!);
  const cookie = /__Host-oauth_state=([^;]*)/.exec(res.headers.get("Set-Cookie") ?? "")?.[1] ?? "";
  const code = harness.fake.facebookCode(user);
  return callback(harness.client, "facebook", { code, state: location.searchParams.get("state")! }, cookie);
}

describe("Facebook does not vouch for email addresses", () => {
  it("answers 409 account_exists for the email of a verified account and links nothing", async () => {
    const harness = oauthClient();
    const owner = await createVerifiedUser(harness.client);
    const res = await facebookSignIn(harness, { id: fbId(), email: owner.email.toUpperCase() });
    expect(res.status).toBe(409);
    expect(res.body.code).toBe("account_exists");
    expect(res.body.access_token).toBeUndefined();
    const me = await harness.client.call("GET", "/auth/me", { token: owner.tokens.access_token });
    expect(me.body.providers).toEqual(["password"]);
    expect(await auditActions(owner.id)).not.toContain("oauth_linked");
  });

  it("never takes over (nor verifies) an unverified account with that email", async () => {
    const harness = oauthClient();
    const email = uniqueEmail("fbsquat");
    await harness.client.call("POST", "/auth/register", { json: { email, password: PASSWORD } });
    const res = await facebookSignIn(harness, { id: fbId(), email });
    expect(res.status).toBe(409);
    expect(res.body.code).toBe("account_exists");
    const user = await database().users.findByEmail(email);
    expect(user?.isVerified).toBe(false);
    expect(user?.passwordHash).toBeTruthy();
  });

  it("creates a new account unverified and never grants ADMIN_EMAILS", async () => {
    const email = uniqueEmail("fbadmin");
    const harness = oauthClient({ ADMIN_EMAILS: email });
    const res = await facebookSignIn(harness, { id: fbId(), email, name: "Not An Admin" });
    expect(res.status).toBe(200);
    const me = await harness.client.call("GET", "/auth/me", { token: res.body.access_token });
    expect(me.body).toMatchObject({ email, role: "user", is_verified: false, providers: ["facebook"] });
    const actions = await auditActions(me.body.id);
    expect(actions).not.toContain("role_promoted");
    expect(actions).not.toContain("email_verified");
  });

  it("lets the signed-in owner link Facebook with ?link=true, then sign in with it", async () => {
    const harness = oauthClient();
    const owner = await createVerifiedUser(harness.client);
    const identity = { id: fbId(), email: uniqueEmail("fb-other-address") };
    const linked = await linkFacebook(harness, owner.tokens.access_token, identity);
    expect(linked.status).toBe(200);

    const me = await harness.client.call("GET", "/auth/me", { token: linked.body.access_token });
    expect(me.body.id).toBe(owner.id);
    expect(me.body.providers).toEqual(["password", "facebook"]);
    expect((await auditEntries(owner.id)).find((e) => e.action === "oauth_linked")?.metadata).toMatchObject({
      provider: "facebook",
    });
    // A notice, with no link that signs in.
    const notice = harness.client.mailbox.last(owner.email);
    expect(notice.subject).toMatch(/Facebook/i);
    expect(notice.text).not.toMatch(/token=|code=/);

    const again = await facebookSignIn(harness, identity);
    expect(again.status).toBe(200);
    const me2 = await harness.client.call("GET", "/auth/me", { token: again.body.access_token });
    expect(me2.body.id).toBe(owner.id);
  });

  it("requires a bearer token to link, and never moves an identity linked elsewhere", async () => {
    const harness = oauthClient();
    const anonymous = await harness.client.call("GET", "/auth/facebook/authorize?link=true");
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get("Set-Cookie")).toBeNull();

    const first = await createVerifiedUser(harness.client);
    const second = await createVerifiedUser(harness.client);
    const identity = { id: fbId(), email: uniqueEmail("fb") };
    expect((await linkFacebook(harness, first.tokens.access_token, identity)).status).toBe(200);
    const steal = await linkFacebook(harness, second.tokens.access_token, identity);
    expect(steal.status).toBe(409);
    const me = await harness.client.call("GET", "/auth/me", { token: second.tokens.access_token });
    expect(me.body.providers).toEqual(["password"]);
  });

  it("documents account_exists and ?link=true", async () => {
    const doc = await testClient().call("GET", "/openapi.json");
    expect(doc.body.paths["/auth/facebook"].post.responses["409"]).toBeDefined();
    expect(doc.body.paths["/auth/facebook"].post.description).toContain("account_exists");
    const params = doc.body.paths["/auth/facebook/authorize"].get.parameters.map(
      (p: { name: string }) => p.name,
    );
    expect(params).toContain("link");
  });
});
