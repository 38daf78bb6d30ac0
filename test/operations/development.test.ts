// Both backends: what a developer gets from plain `npx wrangler dev` (the top level of wrangler.toml) and
// what `npm run deploy` ships ([env.production]); development never answers a public host; and in
// development the RATE_LIMIT_* settings rule, so a manual walk-through can loosen them.
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import packageJson from "../../package.json?raw";
import { createApp } from "../../src/app";
import wranglerToml from "../../wrangler.toml?raw";
import { uniqueEmail } from "../helpers";

/** The lines of one TOML table (up to the next table header), e.g. "[vars]". */
function table(header: string): string {
  const start = wranglerToml.indexOf(`\n${header}\n`);
  expect(start, header).toBeGreaterThanOrEqual(0);
  const rest = wranglerToml.slice(start + header.length + 2);
  return rest.slice(0, rest.search(/\n\[/) === -1 ? undefined : rest.search(/\n\[/));
}

describe("wrangler.toml: development at the top level, production in [env.production]", () => {
  it("plain wrangler commands run as development; npm run deploy deploys production", () => {
    expect(table("[vars]")).toMatch(/^ENVIRONMENT = "development"$/m);
    expect(table("[env.production.vars]")).toMatch(/^ENVIRONMENT = "production"$/m);
    // Bindings are not inherited by an environment: production declares every one it needs.
    for (const binding of ["DB", "KV"])
      expect(wranglerToml).toMatch(
        new RegExp(`\\[\\[env\\.production\\.\\w+\\]\\]\\n(#.*\\n)*binding = "${binding}"`),
      );
    for (const rl of ["RL_LOGIN", "RL_REGISTER", "RL_VERIFY", "RL_REFRESH", "RL_DEFAULT"])
      expect(wranglerToml).toContain(`[[env.production.ratelimits]]\nname = "${rl}"`);
    const scripts = (JSON.parse(packageJson) as { scripts: Record<string, string> }).scripts;
    expect(scripts.deploy).toMatch(
      /migrations apply DB --remote --env production && wrangler deploy --env production$/,
    );
    expect(scripts["db:migrate:remote"]).toContain("--env production");
  });
});

describe("a development Worker", () => {
  const dev = { ...env, ENVIRONMENT: "development" };

  it("answers on localhost", async () => {
    const res = await createApp().request("http://localhost:8787/health", {}, dev);
    expect(res.status).toBe(200);
  });

  it("refuses a public host (a plain `wrangler deploy` of the development settings) and says why", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const res = await createApp().request("https://edge-auth-dev.someone.workers.dev/health", {}, dev);
    expect(res.status).toBe(500);
    const body = await res.json<{ code: string; detail: string }>();
    expect(body.code).toBe("misconfigured");
    expect(body.detail).toMatch(/development answers only localhost.*npm run deploy/);
    vi.restoreAllMocks();
  });
});

describe("rate limits in development come from RATE_LIMIT_*", () => {
  // A new email each time: the per-account login throttle must not be what answers 429 here.
  const login = (ip: string) => ({
    method: "POST",
    headers: { "Content-Type": "application/json", "CF-Connecting-IP": ip },
    body: JSON.stringify({ email: uniqueEmail("nobody"), password: "correct horse battery" }),
  });
  const ip = () => `10.${crypto.getRandomValues(new Uint8Array(3)).join(".")}`;

  it("loosened: 15 logins a minute pass with RATE_LIMIT_LOGIN=50 (the wrangler.toml binding allows 10)", async () => {
    const app = createApp();
    const bindings = {
      ...env,
      ENVIRONMENT: "development",
      RATE_LIMIT_ENABLED: "true",
      RATE_LIMIT_LOGIN: "50",
    };
    const from = ip();
    const statuses: number[] = [];
    for (let i = 0; i < 15; i++)
      statuses.push((await app.request("http://localhost:8787/auth/login", login(from), bindings)).status);
    expect(statuses.filter((s) => s === 429)).toEqual([]);
    expect(statuses.every((s) => s === 401)).toBe(true);
  });

  it("tightened: RATE_LIMIT_LOGIN=2 answers the third login with 429", async () => {
    const app = createApp();
    const bindings = {
      ...env,
      ENVIRONMENT: "development",
      RATE_LIMIT_ENABLED: "true",
      RATE_LIMIT_LOGIN: "2",
    };
    const from = ip();
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++)
      statuses.push((await app.request("http://localhost:8787/auth/login", login(from), bindings)).status);
    expect(statuses).toEqual([401, 401, 429]);
  });
});
