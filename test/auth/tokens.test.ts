import { env } from "cloudflare:workers";
import { SignJWT, UnsecuredJWT } from "jose";
import { describe, expect, it } from "vitest";
import { createVerifiedUser, testClient } from "../helpers";
import { withFakeClock } from "../support/clock";

const secret = new TextEncoder().encode(env.SECRET_KEY as string);
const ISS = "https://auth.example.test";

function forge(claims: Record<string, unknown>, header: Record<string, unknown> = {}) {
  return new SignJWT({ sid: "s", ...claims })
    .setProtectedHeader({ alg: "HS256", typ: "at+jwt", ...header })
    .setSubject(String(claims.sub ?? "u"))
    .setIssuer(String(claims.iss ?? ISS))
    .setAudience(String(claims.aud ?? ISS))
    .setIssuedAt()
    .setJti(crypto.randomUUID())
    .setExpirationTime((claims.exp as number) ?? "10m")
    .sign(secret);
}

describe("access tokens", () => {
  it("rejects alg=none, tampered, expired, wrong-audience, wrong-issuer and wrong-typ tokens", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    const [h, p, s] = user.tokens.access_token.split(".");
    const payload = JSON.parse(atob(p!.replace(/-/g, "+").replace(/_/g, "/")));
    const none = new UnsecuredJWT({ ...payload }).encode();
    const tampered = `${h}.${btoa(JSON.stringify({ ...payload, sub: "someone-else" }))
      .replace(/=+$/, "")
      .replace(/\+/g, "-")
      .replace(/\//g, "_")}.${s}`;
    const base = { sub: user.id, sid: payload.sid };
    const cases = {
      none,
      tampered,
      expired: await forge({ ...base, exp: Math.floor(Date.now() / 1000) - 120 }),
      wrongAud: await forge({ ...base, aud: "https://other.example" }),
      wrongIss: await forge({ ...base, iss: "https://evil.example" }),
      wrongTyp: await forge(base, { typ: "JWT" }),
      garbage: "not-a-jwt",
    };
    for (const [name, token] of Object.entries(cases)) {
      const res = await client.call("GET", "/auth/me", { token });
      expect(res.status, name).toBe(401);
      expect(res.headers.get("WWW-Authenticate"), name).toMatch(/^Bearer/);
    }
    const invalid = await client.call("GET", "/auth/me", { token: cases.expired });
    expect(invalid.headers.get("WWW-Authenticate")).toBe('Bearer error="invalid_token"');
    expect((await client.call("GET", "/auth/me", { token: user.tokens.access_token })).status).toBe(200);
  });

  it("carries the API.md claims and accepts 30 s of clock skew", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    const payload = JSON.parse(
      atob(user.tokens.access_token.split(".")[1]!.replace(/-/g, "+").replace(/_/g, "/")),
    );
    expect(Object.keys(payload).sort()).toEqual([
      "aud",
      "auth_time",
      "exp",
      "iat",
      "iss",
      "jti",
      "nbf",
      "sid",
      "sub",
    ]);
    expect(payload.exp - payload.iat).toBe(1800);
    // A password sign-in is a proof: auth_time is the sign-in itself (RFC 9068 §2.2.1).
    expect(payload.auth_time).toBe(payload.iat);
    await withFakeClock(
      async (clock) => {
        expect((await client.call("GET", "/auth/me", { token: user.tokens.access_token })).status).toBe(200);
        clock.set((payload.exp + 40) * 1000);
        expect((await client.call("GET", "/auth/me", { token: user.tokens.access_token })).status).toBe(401);
      },
      (payload.exp + 20) * 1000,
    );
  });

  it("a token verified before is still checked on every use: clock, session and configuration", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    const token = user.tokens.access_token;
    const payload = JSON.parse(atob(token.split(".")[1]!.replace(/-/g, "+").replace(/_/g, "/")));
    // Verified once (and remembered by the isolate), then used with a clock before its nbf - tolerance.
    expect((await client.call("GET", "/auth/me", { token })).status).toBe(200);
    await withFakeClock(
      async () => {
        expect((await client.call("GET", "/auth/me", { token })).status).toBe(401);
      },
      (payload.nbf - 40) * 1000,
    );
    // Back on the real clock, the token is accepted again: the refusal came from the clock alone.
    expect((await client.call("GET", "/auth/me", { token })).status).toBe(200);
    // The same bytes under another issuer setting are not the same verification.
    const otherIssuer = testClient({}, { JWT_ISSUER: "https://other-issuer.example" });
    expect((await otherIssuer.call("GET", "/auth/me", { token })).status).toBe(401);
    // A remembered signature never stands in for the session: signing out refuses it at once.
    expect((await client.call("POST", "/auth/logout", { token })).status).toBe(204);
    expect((await client.call("GET", "/auth/me", { token })).status).toBe(401);
    // One altered byte of the signature is another token: jose refuses it.
    const last = token.at(-2) === "A" ? "B" : "A";
    const altered = `${token.slice(0, -2)}${last}${token.at(-1)}`;
    expect((await testClient().call("GET", "/auth/me", { token: altered })).status).toBe(401);
  });

  it("requires a bearer token", async () => {
    const client = testClient();
    const res = await client.call("GET", "/auth/me");
    expect(res.status).toBe(401);
    expect(res.headers.get("WWW-Authenticate")).toMatch(/^Bearer/);
    expect(res.body.code).toBe("unauthorized");
  });

  it("publishes an empty JWKS with HS256", async () => {
    const res = await testClient().call("GET", "/.well-known/jwks.json");
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ keys: [] });
  });

  it("signs with ES256 from JWT_PRIVATE_KEY and publishes the public key with its kid", async () => {
    const pair = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
      "sign",
      "verify",
    ])) as CryptoKeyPair;
    const privateKey = pair.privateKey;
    const jwk = await crypto.subtle.exportKey("jwk", privateKey);
    const client = testClient({}, { ALGORITHM: "ES256", JWT_PRIVATE_KEY: JSON.stringify(jwk) });
    const user = await createVerifiedUser(client);
    const header = JSON.parse(
      atob(user.tokens.access_token.split(".")[0]!.replace(/-/g, "+").replace(/_/g, "/")),
    );
    const jwks = await client.call("GET", "/.well-known/jwks.json");
    expect(jwks.body.keys).toHaveLength(1);
    expect(jwks.body.keys[0]).toMatchObject({ kty: "EC", crv: "P-256", kid: header.kid, alg: "ES256" });
    expect(jwks.body.keys[0].d).toBeUndefined();
    expect(header.alg).toBe("ES256");
    expect((await client.call("GET", "/auth/me", { token: user.tokens.access_token })).status).toBe(200);
    // An HS256 token signed with SECRET_KEY is refused when ES256 is pinned.
    const hs = await forge({ sub: user.id });
    expect((await client.call("GET", "/auth/me", { token: hs })).status).toBe(401);
  });
});
