import { describe, expect, it } from "vitest";
import { ConfigError, parseConfig } from "../../src/config";
import { testClient } from "../helpers";

const base = { ENVIRONMENT: "test", APP_URL: "https://auth.example.com" };

function problems(env: Record<string, string>): string[] {
  try {
    parseConfig({ ...base, ...env });
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe("passkey relying-party configuration", () => {
  it("defaults the RP id to APP_URL's host and the origins to APP_URL's origin", () => {
    const cfg = parseConfig(base);
    expect(cfg.WEBAUTHN_RP_ID).toBe("auth.example.com");
    expect(cfg.WEBAUTHN_ORIGINS).toEqual(["https://auth.example.com"]);
  });

  it("starts on a loopback development URL (npm run dev, npm run openapi)", () => {
    expect(parseConfig({ ENVIRONMENT: "development", APP_URL: "http://127.0.0.1:8787" }).WEBAUTHN_RP_ID).toBe(
      "127.0.0.1",
    );
  });

  it("accepts a parent-domain RP id with origins on its subdomains", () => {
    const cfg = parseConfig({
      ...base,
      WEBAUTHN_RP_ID: "example.com",
      WEBAUTHN_ORIGINS: "https://example.com, https://app.example.com",
    });
    expect(cfg.WEBAUTHN_ORIGINS).toEqual(["https://example.com", "https://app.example.com"]);
  });

  it("stops the service with a clear message for an origin outside the RP id", () => {
    expect(problems({ WEBAUTHN_ORIGINS: "https://app.other.com" })).toEqual([
      'WEBAUTHN_ORIGINS: the host of "https://app.other.com" is neither WEBAUTHN_RP_ID (auth.example.com) nor a subdomain of it',
    ]);
    // A suffix that is not a label boundary is not a subdomain.
    expect(problems({ WEBAUTHN_ORIGINS: "https://evilauth.example.com" })).toHaveLength(1);
    expect(problems({ WEBAUTHN_RP_ID: "example.org" })[0]).toContain("WEBAUTHN_ORIGINS");
    expect(
      problems({
        ENVIRONMENT: "production",
        SECRET_KEY: "x".repeat(32),
        EMAIL_TRANSPORT: "resend",
        RESEND_API_KEY: "k",
        WEBAUTHN_ORIGINS: "http://auth.example.com",
      }),
    ).toEqual([
      'WEBAUTHN_ORIGINS: "http://auth.example.com" must be https (browsers only offer passkeys to secure origins)',
    ]);
    expect(problems({ WEBAUTHN_ORIGINS: "https://auth.example.com/app" })[0]).toContain("not a bare origin");
    expect(problems({ WEBAUTHN_RP_ID: "https://example.com" })[0]).toContain("WEBAUTHN_RP_ID");
  });

  it("answers 500 misconfigured (never a ceremony) when the origins are wrong", async () => {
    const client = testClient({}, { WEBAUTHN_ORIGINS: "https://elsewhere.example" });
    const res = await client.call("POST", "/auth/passkeys/login/options", { json: {} });
    expect(res.status).toBe(500);
    expect(res.body.code).toBe("misconfigured");
  });
});
