// Pure (no storage): the email sign-in settings parse with defaults and fail with one message per bad key.
import { describe, expect, it } from "vitest";
import { ConfigError, parseConfig } from "../../src/config";

function problems(settings: Record<string, string>): string[] {
  try {
    parseConfig({ ENVIRONMENT: "test", ...settings });
    return [];
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return err.problems;
  }
}

describe("email sign-in settings", () => {
  it("default to on, with sign-up, linking to the Worker's own page", () => {
    const cfg = parseConfig({ ENVIRONMENT: "test" });
    expect(cfg.EMAIL_LOGIN).toBe(true);
    expect(cfg.EMAIL_LOGIN_SIGNUP).toBe(true);
    expect(cfg.EMAIL_LOGIN_URL).toBeUndefined();
  });

  it("parse booleans and a frontend URL", () => {
    const cfg = parseConfig({
      ENVIRONMENT: "test",
      EMAIL_LOGIN: "false",
      EMAIL_LOGIN_SIGNUP: "0",
      EMAIL_LOGIN_URL: "https://app.example.com/sign-in/",
    });
    expect(cfg.EMAIL_LOGIN).toBe(false);
    expect(cfg.EMAIL_LOGIN_SIGNUP).toBe(false);
    expect(cfg.EMAIL_LOGIN_URL).toBe("https://app.example.com/sign-in");
  });

  it.each([
    ["EMAIL_LOGIN", "off", /^EMAIL_LOGIN: .*"true"\|"false"/],
    ["EMAIL_LOGIN_SIGNUP", "maybe", /^EMAIL_LOGIN_SIGNUP: .*"true"\|"false"/],
    [
      "EMAIL_LOGIN_URL",
      "app.example.com/sign-in",
      /^EMAIL_LOGIN_URL: must be an http:\/\/ or https:\/\/ URL/,
    ],
  ])("%s=%s is one problem naming the setting", (name, value, message) => {
    const found = problems({ [name]: value });
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(message);
  });
});
