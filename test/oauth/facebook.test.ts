import { describe, expect, it } from "vitest";
import { auditEntries, database, uniqueEmail } from "../helpers";
import { APP_URL, callback, FACEBOOK_CLIENT_ID, oauthClient, startFlow } from "./fake-providers";

const fbId = (): string => `${Math.floor(Math.random() * 1e15)}`;

describe("Facebook browser flow", () => {
  it("redirects to the Facebook dialog and signs in on the callback", async () => {
    const harness = oauthClient();
    const flow = await startFlow(harness.client, "facebook");
    expect(flow.location.host).toBe("www.facebook.com");
    expect(flow.location.pathname).toMatch(/\/dialog\/oauth$/);
    expect(flow.location.searchParams.get("client_id")).toBe(FACEBOOK_CLIENT_ID);
    expect(flow.location.searchParams.get("redirect_uri")).toBe(`${APP_URL}/auth/facebook/callback`);
    expect(flow.location.searchParams.get("scope")?.split(" ")).toContain("email");
    expect(flow.cookie).toBe(flow.state);

    const email = uniqueEmail("fb");
    const code = harness.fake.facebookCode({ id: fbId(), name: "Mark", email });
    const res = await callback(harness.client, "facebook", { code, state: flow.state }, flow.cookie);
    expect(res.status).toBe(200);
    const me = await harness.client.call("GET", "/auth/me", { token: res.body.access_token });
    // Facebook asserts nothing about the address: the account is not verified by it.
    expect(me.body).toMatchObject({ email, full_name: "Mark", is_verified: false, providers: ["facebook"] });
    const entries = await auditEntries(me.body.id);
    expect(entries.find((e) => e.action === "oauth_login")?.metadata).toEqual({
      provider: "facebook",
      created: true,
    });

    const replay = await callback(harness.client, "facebook", { code, state: flow.state }, flow.cookie);
    expect(replay.body.code).toBe("invalid_state");
  });

  it("answers oauth_failed for a code Facebook does not accept", async () => {
    const harness = oauthClient();
    const flow = await startFlow(harness.client, "facebook");
    const res = await callback(harness.client, "facebook", { code: "bogus", state: flow.state }, flow.cookie);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe("oauth_failed");
  });
});

describe("POST /auth/facebook", () => {
  it("signs in with a user access token issued to our app (checked with debug_token, /me with appsecret_proof)", async () => {
    const harness = oauthClient();
    const email = uniqueEmail("fb");
    const token = harness.fake.facebookToken({ id: fbId(), name: "Zuck", email });
    const res = await harness.client.call("POST", "/auth/facebook", { json: { access_token: token } });
    expect(res.status).toBe(200);
    expect(harness.fake.requests).toEqual(
      expect.arrayContaining([expect.stringMatching(/debug_token$/), expect.stringMatching(/\/me$/)]),
    );
    const me = await harness.client.call("GET", "/auth/me", { token: res.body.access_token });
    expect(me.body).toMatchObject({ email, providers: ["facebook"] });
  });

  it("rejects a valid token that another app obtained", async () => {
    const harness = oauthClient();
    const email = uniqueEmail("fb");
    const token = harness.fake.facebookToken({ id: fbId(), email }, "999999999");
    const res = await harness.client.call("POST", "/auth/facebook", { json: { access_token: token } });
    expect(res.status).toBe(401);
    expect(res.body.code).toBe("invalid_token");
    expect(harness.fake.requests.some((r) => r.endsWith("/me"))).toBe(false);
    expect(await database().users.findByEmail(email)).toBeNull();
  });

  it("rejects an unknown token", async () => {
    const harness = oauthClient();
    const res = await harness.client.call("POST", "/auth/facebook", { json: { access_token: "EAAnope" } });
    expect(res.status).toBe(401);
    expect(res.body.code).toBe("invalid_token");
  });

  it("exchanges a code for our callback; a bad code is 401", async () => {
    const harness = oauthClient();
    const code = harness.fake.facebookCode({ id: fbId(), email: uniqueEmail("fb") });
    const ok = await harness.client.call("POST", "/auth/facebook", { json: { code } });
    expect(ok.status).toBe(200);
    const again = await harness.client.call("POST", "/auth/facebook", { json: { code } });
    expect(again.status).toBe(401);
    expect(again.body.code).toBe("invalid_token");
  });

  it("creates nothing for a Facebook account without an email", async () => {
    const harness = oauthClient();
    const token = harness.fake.facebookToken({ id: fbId(), name: "No Mail" });
    const res = await harness.client.call("POST", "/auth/facebook", { json: { access_token: token } });
    expect(res.status).toBe(403);
    expect(res.body.code).toBe("email_not_verified");
  });
});
