// Both backends (pure): `npm run dev` reads .dev.vars with wrangler's own parser (dotenv) and derives the
// default APP_URL from --port; a scheme-less APP_URL is refused with a clear message.
import { describe, expect, it } from "vitest";
// @ts-expect-error plain .mjs script without declarations; its exports are typed below.
import * as launcher from "../../scripts/dev-vars.mjs";
import { ConfigError, parseConfig } from "../../src/config";

const { parseDevVars, devSettings } = launcher as {
  parseDevVars(text: string): Record<string, string>;
  devSettings(
    toml: Record<string, string>,
    dev: Record<string, string>,
    args: string[],
  ): Record<string, string>;
};

describe(".dev.vars parsing", () => {
  it("reads inline comments, export lines and quotes as wrangler does", () => {
    const vars = parseDevVars(
      [
        "# a comment line",
        "RATE_LIMIT_LOGIN=100   # loosened for a walk-through",
        "export SECRET_KEY=abcdefghijklmnopqrstuvwxyz0123456789",
        'EMAIL_FROM="Me <me@example.com>" # quoted',
        "EMPTY=",
      ].join("\n"),
    );
    expect(vars).toEqual({
      RATE_LIMIT_LOGIN: "100",
      SECRET_KEY: "abcdefghijklmnopqrstuvwxyz0123456789",
      EMAIL_FROM: "Me <me@example.com>",
      EMPTY: "",
    });
    // And the result is a valid configuration (the old parser produced "100   # loosened…" → NaN).
    expect(() => parseConfig({ ENVIRONMENT: "development", ...vars })).not.toThrow();
  });
});

describe("APP_URL in development", () => {
  it("defaults to http://localhost:<port> of wrangler dev", () => {
    expect(devSettings({}, {}, []).APP_URL).toBe("http://localhost:8787");
    expect(devSettings({}, {}, ["--port", "8811"]).APP_URL).toBe("http://localhost:8811");
    expect(devSettings({}, {}, ["--port=8812"]).APP_URL).toBe("http://localhost:8812");
    expect(devSettings({}, { APP_URL: "http://127.0.0.1:9000" }, ["--port", "8811"]).APP_URL).toBe(
      "http://127.0.0.1:9000",
    );
    expect(devSettings({ ENVIRONMENT: "production" }, {}, []).ENVIRONMENT).toBe("development");
  });

  it("without a scheme is refused with one clear message", () => {
    let problems: string[] = [];
    try {
      parseConfig({ ENVIRONMENT: "development", APP_URL: "localhost:8787" });
    } catch (err) {
      if (err instanceof ConfigError) problems = err.problems;
    }
    expect(problems).toEqual([expect.stringMatching(/^APP_URL: must be an http:\/\/ or https:\/\/ URL/)]);
  });
});
