// Backend-independent: the webhook settings are checked at start-up, with one clear message each that
// never repeats the secret or the URL (it may carry a token).
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { createApp } from "../../src/app";
import { ConfigError, parseConfig } from "../../src/config";
import { BASE } from "../helpers";
import { WEBHOOK_SECRET } from "./support";

function problems(settings: Record<string, string>): string[] {
  try {
    parseConfig({ ENVIRONMENT: "test", ...settings });
    return [];
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return err.problems;
  }
}

describe("webhook settings", () => {
  it("accept an https URL with a whsec_ secret, and http only in development", () => {
    expect(problems({ WEBHOOK_URL: "https://hooks.example.com/auth", WEBHOOK_SECRET })).toEqual([]);
    expect(
      problems({ ENVIRONMENT: "development", WEBHOOK_URL: "http://127.0.0.1:9000/hook", WEBHOOK_SECRET }),
    ).toEqual([]);
  });

  it.each([
    [
      { WEBHOOK_URL: "http://hooks.example.com/auth?token=hunter2", WEBHOOK_SECRET },
      /^WEBHOOK_URL: must be https:\/\/ outside development/,
    ],
    [
      { WEBHOOK_URL: "ftp://hooks.example.com/hunter2", WEBHOOK_SECRET },
      /^WEBHOOK_URL: must be an https:\/\/ URL/,
    ],
    [{ WEBHOOK_URL: "hooks.example.com/hunter2", WEBHOOK_SECRET }, /^WEBHOOK_URL: must be an https:\/\/ URL/],
    [
      { WEBHOOK_URL: "https://user:hunter2@hooks.example.com/", WEBHOOK_SECRET },
      /^WEBHOOK_URL: must not carry credentials/,
    ],
    [{ WEBHOOK_URL: "https://hooks.example.com/" }, /^WEBHOOK_SECRET: is required with WEBHOOK_URL/],
    [{ WEBHOOK_SECRET }, /^WEBHOOK_URL: is required with WEBHOOK_SECRET/],
    [
      { WEBHOOK_URL: "https://hooks.example.com/", WEBHOOK_SECRET: "hunter2-not-whsec" },
      /^WEBHOOK_SECRET: must be whsec_/,
    ],
    [
      { WEBHOOK_URL: "https://hooks.example.com/", WEBHOOK_SECRET: `whsec_${btoa("hunter2-too-short")}` },
      /^WEBHOOK_SECRET: must be whsec_/,
    ],
    [
      { WEBHOOK_URL: "https://hooks.example.com/", WEBHOOK_SECRET: "whsec_hunter2!!" },
      /^WEBHOOK_SECRET: must be whsec_/,
    ],
  ])("%o is one clear problem that does not repeat the value", (settings, message) => {
    const found = problems(settings);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(message);
    expect(found[0]).not.toContain("hunter2");
  });

  it("stop the service: a bad WEBHOOK_URL fails every request with misconfigured, named in the log", async () => {
    const logged = vi.spyOn(console, "error").mockImplementation(() => {});
    const res = await createApp().request(
      `${BASE}/health`,
      {},
      {
        ...env,
        ENVIRONMENT: "production",
        EMAIL_TRANSPORT: "resend",
        RESEND_API_KEY: "re_test",
        WEBHOOK_URL: "http://hooks.example.com/auth",
        WEBHOOK_SECRET,
      },
    );
    expect(res.status).toBe(500);
    expect((await res.json()) as { code: string }).toMatchObject({ code: "misconfigured" });
    expect(logged.mock.calls.flat().join(" ")).toContain("WEBHOOK_URL");
  });
});
