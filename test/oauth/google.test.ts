import { describe, expect, it } from "vitest";
import { auditEntries, database, testClient, uniqueEmail } from "../helpers";
import {
  ALLOWED_REDIRECT,
  APP_URL,
  callback,
  GOOGLE_CLIENT_ID,
  googleIdTokenSignIn,
  googleSignIn,
  googleSub,
  oauthClient,
  startFlow,
} from "./fake-providers";

async function s256(verifier: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  return btoa(String.fromCharCode(...digest))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");
}

describe("GET /auth/google/authorize", () => {
  it("redirects to Google with state, PKCE S256, nonce and our redirect URI, bound to an HttpOnly cookie", async () => {
    const { client } = oauthClient();
    const flow = await startFlow(client, "google");
    const p = flow.location.searchParams;
    expect(`${flow.location.origin}${flow.location.pathname}`).toBe(
      "https://accounts.google.com/o/oauth2/v2/auth",
    );
    expect(p.get("response_type")).toBe("code");
    expect(p.get("client_id")).toBe(GOOGLE_CLIENT_ID);
    expect(p.get("redirect_uri")).toBe(`${APP_URL}/auth/google/callback`);
    expect(p.get("scope")?.split(" ")).toEqual(expect.arrayContaining(["openid", "email", "profile"]));
    expect(p.get("code_challenge_method")).toBe("S256");
    expect(p.get("code_challenge")).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(p.get("nonce")).toMatch(/^[A-Za-z0-9_-]{32,}$/);
    expect(flow.state).toMatch(/^[A-Za-z0-9_-]{43}$/);

    expect(flow.cookie).toBe(flow.state);
    const attrs = flow.setCookie.split(";").map((a) => a.trim().toLowerCase());
    expect(flow.setCookie.startsWith("__Host-oauth_state=")).toBe(true);
    expect(attrs).toEqual(
      expect.arrayContaining(["httponly", "secure", "samesite=lax", "path=/", "max-age=600"]),
    );
    expect(attrs.some((a) => a.startsWith("domain="))).toBe(false);

    const again = await startFlow(client, "google");
    expect(again.state).not.toBe(flow.state);
    expect(again.location.searchParams.get("code_challenge")).not.toBe(p.get("code_challenge"));
    expect(again.location.searchParams.get("nonce")).not.toBe(p.get("nonce"));
  });

  it("accepts only allowlisted redirect_to values", async () => {
    const { client } = oauthClient();
    const ok = await client.call(
      "GET",
      `/auth/google/authorize?redirect_to=${encodeURIComponent(`${ALLOWED_REDIRECT}/x`)}`,
    );
    expect(ok.status).toBe(302);
    for (const bad of [
      "https://evil.example/signed-in",
      "https://app.example.test/signed-in-evil",
      "https://app.example.test/other",
      "http://app.example.test/signed-in",
      "https://user@app.example.test/signed-in",
      "https://app.example.test/signed-in/../admin",
      "javascript:alert(1)",
    ]) {
      const res = await client.call("GET", `/auth/google/authorize?redirect_to=${encodeURIComponent(bad)}`);
      expect(res.status, bad).toBe(400);
      expect(res.body.code).toBe("invalid_redirect");
      expect(res.headers.get("Set-Cookie")).toBeNull();
    }
  });
});

describe("GET /auth/google/callback", () => {
  it("exchanges the code with the PKCE verifier, signs in and clears the state cookie", async () => {
    const harness = oauthClient();
    const email = uniqueEmail("google");
    const flow = await startFlow(harness.client, "google");
    const challenge = flow.location.searchParams.get("code_challenge")!;
    const code = harness.fake.googleCode(
      { sub: googleSub(), email, email_verified: true, name: "Ada Google" },
      // The fake token endpoint refuses any verifier whose S256 is not this challenge.
      { challenge, nonce: flow.location.searchParams.get("nonce") },
    );

    const res = await callback(harness.client, "google", { code, state: flow.state }, flow.cookie);

    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      access_token: expect.any(String),
      refresh_token: expect.any(String),
      token_type: "bearer",
      expires_in: 1800,
    });
    expect(res.headers.get("Cache-Control")).toBe("no-store");
    expect(res.headers.get("Set-Cookie")).toMatch(/^__Host-oauth_state=;.*Max-Age=0/);
    expect(harness.fake.requests).toContain("POST oauth2.googleapis.com/token");
    const me = await harness.client.call("GET", "/auth/me", { token: res.body.access_token });
    expect(me.body).toMatchObject({
      email,
      full_name: "Ada Google",
      is_verified: true,
      providers: ["google"],
    });
    const entries = await auditEntries(me.body.id);
    expect(entries.find((e) => e.action === "oauth_login")?.metadata).toEqual({
      provider: "google",
      created: true,
    });
  });

  it("refuses a state that does not match the cookie, a missing cookie and a replayed state", async () => {
    const harness = oauthClient();
    const claims = { sub: googleSub(), email: uniqueEmail("g"), email_verified: true };
    const mine = await startFlow(harness.client, "google");
    const attackers = await startFlow(harness.client, "google");
    const code = harness.fake.googleCode(claims, {
      challenge: attackers.location.searchParams.get("code_challenge"),
      nonce: attackers.location.searchParams.get("nonce"),
    });

    // Login CSRF: the attacker's code and state, landing in a browser that holds another state.
    const mismatch = await callback(harness.client, "google", { code, state: attackers.state }, mine.cookie);
    expect(mismatch.status).toBe(400);
    expect(mismatch.body.code).toBe("invalid_state");
    expect(mismatch.headers.get("Set-Cookie")).toMatch(/Max-Age=0/);

    const noCookie = await callback(harness.client, "google", { code, state: attackers.state });
    expect(noCookie.status).toBe(400);
    expect(noCookie.body.code).toBe("invalid_state");

    const noState = await callback(harness.client, "google", { code }, attackers.cookie);
    expect(noState.body.code).toBe("invalid_state");

    const ok = await callback(harness.client, "google", { code, state: attackers.state }, attackers.cookie);
    expect(ok.status).toBe(200);

    const code2 = harness.fake.googleCode(claims, {
      challenge: attackers.location.searchParams.get("code_challenge"),
      nonce: attackers.location.searchParams.get("nonce"),
    });
    const replay = await callback(
      harness.client,
      "google",
      { code: code2, state: attackers.state },
      attackers.cookie,
    );
    expect(replay.status).toBe(400);
    expect(replay.body.code).toBe("invalid_state");
  });

  it("refuses a state minted for the other provider", async () => {
    const harness = oauthClient();
    const fb = await startFlow(harness.client, "facebook");
    const res = await callback(harness.client, "google", { code: "x", state: fb.state }, fb.cookie);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe("invalid_state");
  });

  it("answers oauth_failed when the user declines, the code is bad or the nonce does not match", async () => {
    const harness = oauthClient();
    const declined = await startFlow(harness.client, "google");
    const denied = await callback(
      harness.client,
      "google",
      { error: "access_denied", state: declined.state },
      declined.cookie,
    );
    expect(denied.status).toBe(400);
    expect(denied.body.code).toBe("oauth_failed");

    const bad = await startFlow(harness.client, "google");
    const badCode = await callback(
      harness.client,
      "google",
      { code: "not-a-code", state: bad.state },
      bad.cookie,
    );
    expect(badCode.status).toBe(400);
    expect(badCode.body.code).toBe("oauth_failed");

    const flow = await startFlow(harness.client, "google");
    const code = harness.fake.googleCode(
      { sub: googleSub(), email: uniqueEmail("g"), email_verified: true },
      { challenge: flow.location.searchParams.get("code_challenge"), nonce: "a-nonce-from-another-request" },
    );
    const wrongNonce = await callback(harness.client, "google", { code, state: flow.state }, flow.cookie);
    expect(wrongNonce.status).toBe(400);
    expect(wrongNonce.body.code).toBe("oauth_failed");
  });

  it("redirects to an allowlisted redirect_to with a one-time code, never tokens", async () => {
    const harness = oauthClient();
    const res = await googleSignIn(
      harness,
      { sub: googleSub(), email: uniqueEmail("g"), email_verified: true },
      `?redirect_to=${encodeURIComponent(ALLOWED_REDIRECT)}`,
    );
    expect(res.status).toBe(302);
    const location = new URL(res.headers.get("Location")!);
    expect(`${location.origin}${location.pathname}`).toBe(ALLOWED_REDIRECT);
    expect(location.hash).toBe("");
    expect([...location.searchParams.keys()]).toEqual(["code"]);
    const exchanged = await harness.client.call("POST", "/auth/oauth/exchange", {
      json: { code: location.searchParams.get("code") },
    });
    expect(exchanged.body.token_type).toBe("bearer");
    const me = await harness.client.call("GET", "/auth/me", { token: exchanged.body.access_token });
    expect(me.status).toBe(200);
  });
});

describe("POST /auth/google", () => {
  it("signs in with a valid ID token, once per identity", async () => {
    const harness = oauthClient();
    const claims = { sub: googleSub(), email: uniqueEmail("g"), email_verified: true, name: "Grace" };
    const first = await googleIdTokenSignIn(harness, claims);
    expect(first.status).toBe(200);
    const second = await googleIdTokenSignIn(harness, claims);
    expect(second.status).toBe(200);
    const a = await harness.client.call("GET", "/auth/me", { token: first.body.access_token });
    const b = await harness.client.call("GET", "/auth/me", { token: second.body.access_token });
    expect(b.body.id).toBe(a.body.id);
    expect(a.body.providers).toEqual(["google"]);
    const logins = (await auditEntries(a.body.id)).filter((e) => e.action === "oauth_login");
    expect(logins.map((e) => e.metadata.created).sort()).toEqual([false, true]);
    // Google's keys are cached per isolate, not fetched for every token.
    expect(harness.fake.requests.filter((r) => r.includes("oauth2/v3/certs")).length).toBeLessThanOrEqual(1);
  });

  it.each([
    ["a token for another client (aud)", { aud: "someone-else.apps.googleusercontent.com" }],
    ["a token from another issuer", { iss: "https://accounts.evil.example" }],
    ["an expired token", { exp: Math.floor(Date.now() / 1000) - 3600 }],
    ["a forged signature", { forged: true }],
  ])("rejects %s with 401 invalid_token", async (_label, opts) => {
    const harness = oauthClient();
    const email = uniqueEmail("g");
    const idToken = await harness.fake.idToken({ sub: googleSub(), email, email_verified: true }, opts);
    const res = await harness.client.call("POST", "/auth/google", { json: { id_token: idToken } });
    expect(res.status).toBe(401);
    expect(res.body.code).toBe("invalid_token");
    // Nothing was created for the claimed email.
    expect(await database().users.findByEmail(email)).toBeNull();
  });

  it("rejects garbage as an ID token", async () => {
    const { client } = oauthClient();
    const res = await client.call("POST", "/auth/google", { json: { id_token: "not.a.jwt" } });
    expect(res.status).toBe(401);
    expect(res.body.code).toBe("invalid_token");
  });

  it("exchanges a client's code and PKCE verifier; a foreign redirect_uri is refused", async () => {
    const harness = oauthClient();
    const verifier = "v".repeat(20) + crypto.randomUUID().replace(/-/g, "");
    const spa = "https://spa.example.test/callback";
    const code = harness.fake.googleCode(
      { sub: googleSub(), email: uniqueEmail("g"), email_verified: true },
      { challenge: await s256(verifier), redirectUri: spa },
    );
    const foreign = await harness.client.call("POST", "/auth/google", {
      json: { code, code_verifier: verifier, redirect_uri: "https://evil.example/callback" },
    });
    expect(foreign.status).toBe(400);
    expect(foreign.body.code).toBe("invalid_redirect");

    const wrongVerifier = await harness.client.call("POST", "/auth/google", {
      json: { code, code_verifier: "w".repeat(43), redirect_uri: spa },
    });
    expect(wrongVerifier.status).toBe(401);
    expect(wrongVerifier.body.code).toBe("invalid_token");

    const code2 = harness.fake.googleCode(
      { sub: googleSub(), email: uniqueEmail("g"), email_verified: true },
      { challenge: await s256(verifier), redirectUri: spa },
    );
    const ok = await harness.client.call("POST", "/auth/google", {
      json: { code: code2, code_verifier: verifier, redirect_uri: spa },
    });
    expect(ok.status).toBe(200);
    expect(ok.body.token_type).toBe("bearer");
  });

  it("answers 502 provider_unavailable when Google is down, not a token error", async () => {
    const harness = oauthClient();
    harness.fake.googleDown = true;
    const res = await harness.client.call("POST", "/auth/google", {
      json: { code: "any-code", code_verifier: "v".repeat(43) },
    });
    expect(res.status).toBe(502);
    expect(res.body.code).toBe("provider_unavailable");
  });

  it("validates the body", async () => {
    const { client } = oauthClient();
    const res = await client.call("POST", "/auth/google", { json: { code: "x", code_verifier: "short" } });
    expect(res.status).toBe(422);
  });
});

describe("OpenAPI", () => {
  it("documents the OAuth routes and the linking rules", async () => {
    const { client } = oauthClient();
    const doc = await client.call("GET", "/openapi.json");
    for (const path of ["/auth/google/authorize", "/auth/google/callback", "/auth/facebook/callback"])
      expect(doc.body.paths[path]?.get, path).toBeDefined();
    expect(doc.body.paths["/auth/google"].post.description).toContain("never links");
    expect(doc.body.paths["/auth/facebook"].post.description).toContain("not trusted as verified");
  });
});

describe("unconfigured provider", () => {
  it("answers 404 provider_not_configured on every Google and Facebook route", async () => {
    const client = testClient();
    for (const provider of ["google", "facebook"]) {
      for (const [method, path, json] of [
        ["GET", `/auth/${provider}/authorize`, undefined],
        ["GET", `/auth/${provider}/callback?code=x&state=y`, undefined],
        ["POST", `/auth/${provider}`, provider === "google" ? { id_token: "x.y.z" } : { access_token: "x" }],
      ] as const) {
        const res = await client.call(method, path, { json });
        expect(res.status, `${method} ${path}`).toBe(404);
        expect(res.body.code).toBe("provider_not_configured");
      }
    }
  });
});
