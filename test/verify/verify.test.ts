import { env, exports } from "cloudflare:workers";
import { type VerifyOptions, type VerifyVariables, verifyAccessToken } from "edge-auth/verify";
import { Hono } from "hono";
import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { service } from "../client/support";
import { BASE, createVerifiedUser, testClient } from "../helpers";
import { fakeClock } from "../support/clock";

const SECRET = env.SECRET_KEY as string;

/** Another Worker's app: one protected route answering what the middleware established. */
function downstream(options: VerifyOptions) {
  const app = new Hono<{ Variables: VerifyVariables }>();
  app.use("/api/*", verifyAccessToken(options));
  app.get("/api/whoami", (c) => c.json({ auth: c.var.auth, user: c.var.authUser ?? null }));
  return (token?: string, headers: Record<string, string> = {}) =>
    app.request("https://api.example.test/api/whoami", {
      headers: token ? { Authorization: `Bearer ${token}`, ...headers } : headers,
    });
}

function segments(jwt: string): [string, string, string] {
  return jwt.split(".") as [string, string, string];
}

function b64urlJson(value: unknown): string {
  return btoa(JSON.stringify(value)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function claimsOf(jwt: string): Record<string, unknown> {
  return JSON.parse(atob(segments(jwt)[1].replace(/-/g, "+").replace(/_/g, "/")));
}

async function expectRefused(res: Response, code = "invalid_token"): Promise<void> {
  expect(res.status).toBe(401);
  expect(res.headers.get("Content-Type")).toContain("application/problem+json");
  expect(res.headers.get("WWW-Authenticate")).toMatch(/^Bearer /);
  expect(await res.json()).toMatchObject({ status: 401, code });
}

async function ecKeyJwk(): Promise<string> {
  const pair = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
    "sign",
    "verify",
  ])) as CryptoKeyPair;
  return JSON.stringify(await crypto.subtle.exportKey("jwk", pair.privateKey));
}

async function edKeyJwk(): Promise<string> {
  const pair = (await crypto.subtle.generateKey({ name: "Ed25519" }, true, [
    "sign",
    "verify",
  ])) as CryptoKeyPair;
  return JSON.stringify(await crypto.subtle.exportKey("jwk", pair.privateKey));
}

describe("edge-auth/verify with HS256 (the shared secret)", () => {
  const hs = { issuer: BASE, audience: BASE, secret: SECRET };

  it("accepts the service's access token and exposes its claims", async () => {
    const user = await createVerifiedUser(testClient());
    const res = await downstream(hs)(user.tokens.access_token);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { auth: Record<string, unknown>; user: unknown };
    const claims = claimsOf(user.tokens.access_token);
    expect(body.auth).toMatchObject({
      userId: user.id,
      sessionId: claims.sid,
      jti: claims.jti,
      exp: claims.exp,
    });
    expect(body.auth.authTime).toBe(claims.auth_time);
    expect(body.user).toBeNull();
  });

  it("refuses a missing, tampered, foreign, expired or wrongly addressed token", async () => {
    const user = await createVerifiedUser(testClient());
    const token = user.tokens.access_token;
    const call = downstream(hs);
    const [header, , signature] = segments(token);

    await expectRefused(await call(), "unauthorized");
    // Payload swapped for another user's id, signature kept.
    const swapped = `${header}.${b64urlJson({ ...claimsOf(token), sub: crypto.randomUUID() })}.${signature}`;
    await expectRefused(await call(swapped));
    // Signed with another secret, with every claim right.
    const foreign = await new SignJWT(claimsOf(token))
      .setProtectedHeader({ alg: "HS256", typ: "at+jwt" })
      .sign(new TextEncoder().encode("another-secret-that-is-at-least-32-bytes"));
    await expectRefused(await call(foreign));
    // alg "none".
    const none = `${b64urlJson({ alg: "none", typ: "at+jwt" })}.${segments(token)[1]}.`;
    await expectRefused(await call(none));
    // A refresh token (opaque) and an ID-token-like JWT without typ at+jwt, signed with the right secret.
    await expectRefused(await call(user.tokens.refresh_token));
    const untyped = await new SignJWT(claimsOf(token))
      .setProtectedHeader({ alg: "HS256" })
      .sign(new TextEncoder().encode(SECRET));
    await expectRefused(await call(untyped));
    // Wrong audience or issuer configured downstream (a token meant for another deployment).
    await expectRefused(await downstream({ ...hs, audience: "https://other.example" })(token));
    await expectRefused(await downstream({ ...hs, issuer: "https://other.example" })(token));
    // Expired: 31 minutes later (beyond the 30 s tolerance).
    const clock = fakeClock();
    clock.advance(31 * 60_000);
    await expectRefused(await call(token));
  });

  it("with the session check through the service binding, refuses a signed-out session at once", async () => {
    const raw = testClient();
    const user = await createVerifiedUser(raw);
    const token = user.tokens.access_token;
    // exports.default is a real service binding to this Worker (the service's own entry point).
    const checked = downstream({ ...hs, session: { fetcher: exports.default } });
    const local = downstream(hs);

    const alive = await checked(token, { "CF-Connecting-IP": "203.0.113.9" });
    expect(alive.status).toBe(200);
    expect(((await alive.json()) as { user: { id: string; email: string } }).user).toMatchObject({
      id: user.id,
      email: user.email,
    });

    expect((await raw.call("POST", "/auth/logout", { token })).status).toBe(204);

    await expectRefused(await checked(token));
    // Without the check the token is good until it expires: the trade-off the option exists for.
    expect((await local(token)).status).toBe(200);
  });

  it("counts the session check against the end user's IP, and passes the service's 429 on", async () => {
    const user = await createVerifiedUser(testClient());
    // The service with a default limit of 2 a minute, counted by its own store (no fixed bindings).
    const limited = service(
      {},
      {
        RATE_LIMIT_ENABLED: "true",
        RATE_LIMIT_DEFAULT: "2",
        ...Object.fromEntries(
          ["RL_LOGIN", "RL_REGISTER", "RL_VERIFY", "RL_REFRESH", "RL_DEFAULT"].map((n) => [n, undefined]),
        ),
      },
    );
    const call = downstream({ ...hs, session: { fetcher: limited } });
    const from = (ip: string) => call(user.tokens.access_token, { "CF-Connecting-IP": ip });
    const one = `198.51.100.${1 + (Date.now() % 200)}`;

    expect([(await from(one)).status, (await from(one)).status]).toEqual([200, 200]);
    const third = await from(one);
    expect(third.status).toBe(429);
    expect(Number(third.headers.get("Retry-After"))).toBeGreaterThan(0);
    expect(await third.json()).toMatchObject({ code: "rate_limited" });
    // Another user of the same downstream Worker is not held back by the first one's bucket.
    expect((await from("2001:db8:77::1")).status).toBe(200);
    expect(limited.count("GET /auth/me")).toBe(4);
  });

  it("fails closed when the service cannot be asked", async () => {
    const user = await createVerifiedUser(testClient());
    const down = { fetch: () => Promise.reject(new Error("binding unavailable")) };
    const res = await downstream({ ...hs, session: { fetcher: down } })(user.tokens.access_token);
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ code: "auth_unavailable" });
  });
});

describe.each([
  ["ES256", ecKeyJwk],
  ["EdDSA", edKeyJwk],
] as const)("edge-auth/verify with %s (the published JWKS)", (alg, privateJwk) => {
  it("fetches the JWKS once, verifies, and refuses HS256 tokens (algorithm confusion)", async () => {
    const settings = { ALGORITHM: alg, JWT_PRIVATE_KEY: await privateJwk() };
    // The service twice over the same settings: one signs the user in, the other serves (and counts)
    // the JWKS requests the verifier makes through its binding.
    const user = await createVerifiedUser(testClient({}, settings));
    const svc = service({}, settings);
    const issuer = BASE;
    // A fresh JWKS URL per case: the key cache is per isolate and per URL.
    const url = `${BASE}/.well-known/jwks.json?case=${crypto.randomUUID()}`;
    const call = downstream({ issuer, audience: BASE, jwks: { url, fetcher: svc } });
    expect(JSON.parse(atob(segments(user.tokens.access_token)[0])).alg).toBe(alg);

    for (let i = 0; i < 3; i++) expect((await call(user.tokens.access_token)).status).toBe(200);
    expect(svc.count("GET /.well-known/jwks.json")).toBe(1);

    const hs256 = await new SignJWT(claimsOf(user.tokens.access_token))
      .setProtectedHeader({ alg: "HS256", typ: "at+jwt" })
      .sign(new TextEncoder().encode(SECRET));
    await expectRefused(await call(hs256));
    const [header, , signature] = segments(user.tokens.access_token);
    const swapped = `${header}.${b64urlJson({ ...claimsOf(user.tokens.access_token), sid: "x" })}.${signature}`;
    await expectRefused(await call(swapped));
    await expectRefused(
      await downstream({ issuer, audience: "https://other.example", jwks: { url, fetcher: svc } })(
        user.tokens.access_token,
      ),
    );
  });

  it("answers 503, never lets the token through, when the keys cannot be fetched", async () => {
    const user = await createVerifiedUser(
      testClient({}, { ALGORITHM: alg, JWT_PRIVATE_KEY: await privateJwk() }),
    );
    const url = `${BASE}/.well-known/jwks.json?case=${crypto.randomUUID()}`;
    const broken = { fetch: async () => new Response("upstream error", { status: 502 }) };
    const res = await downstream({ issuer: BASE, audience: BASE, jwks: { url, fetcher: broken } })(
      user.tokens.access_token,
    );
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ code: "auth_unavailable" });
  });
});
