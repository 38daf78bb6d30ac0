import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  type AssetFetcher,
  loadCommonPasswords,
  PASSWORD_LIST_HEADER,
  PASSWORD_LIST_PATH,
} from "../../src/auth/password-policy";
import { ConfigError } from "../../src/config";
import { createVerifiedUser, database, PASSWORD, testClient, uniqueEmail } from "../helpers";

const realAssets = (env as unknown as { ASSETS: Fetcher }).ASSETS;

/** The real ASSETS binding behind a counter: every test gets a new one, hence a list load of its own. */
function countingAssets(
  serve: (path: string) => Promise<Response> = (p) => realAssets.fetch(`https://a${p}`),
) {
  const paths: string[] = [];
  const assets: AssetFetcher = {
    fetch(input: string) {
      const path = new URL(input).pathname;
      paths.push(path);
      return serve(path);
    },
  };
  return { assets, paths };
}

async function register(assets: unknown, password: string, email = uniqueEmail()) {
  const client = testClient({}, { ASSETS: assets });
  const res = await client.call("POST", "/auth/register", { json: { email, password } });
  return { res, client, email };
}

async function accountExists(email: string): Promise<boolean> {
  return (await database().users.findByEmail(email)) !== null;
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("common-password list (static asset)", () => {
  it("is the complete zxcvbn list: header count matches, lowercase, no bundle copy needed", async () => {
    const list = await loadCommonPasswords(realAssets);
    const text = await (await realAssets.fetch(`https://a${PASSWORD_LIST_PATH}`)).text();
    expect(text.startsWith(`${PASSWORD_LIST_HEADER} ${list.size}\n`)).toBe(true);
    expect(list.size).toBeGreaterThan(40_000);
    for (const word of ["password", "qwertyuiop", "trustno1", "iloveyou123", "zxcvbnmmnbvcxz"]) {
      expect(list.has(word)).toBe(true);
    }
    expect([...list].filter((w) => w !== w.toLowerCase())).toEqual([]);
    expect(list.has(PASSWORD.toLowerCase())).toBe(false);
  });

  it("refuses a listed password whatever its case, reading the list once for a burst of first checks", async () => {
    const { assets, paths } = countingAssets();
    const emails = Array.from({ length: 8 }, () => uniqueEmail());
    const passwords = ["password123", "PASSWORD123", "TrustNo1", "iloveyou123", "Baseball1"];
    const results = await Promise.all(
      emails.map((email, i) => register(assets, passwords[i % passwords.length] as string, email)),
    );
    for (const { res, client, email } of results) {
      expect(res.status).toBe(422);
      expect(res.body.code).toBe("weak_password");
      expect(res.body.detail).toMatch(/too common/);
      expect(client.mailbox.to(email)).toHaveLength(0);
      expect(await accountExists(email)).toBe(false);
    }
    expect(paths).toEqual([PASSWORD_LIST_PATH]);
    // Later checks on the same binding reuse the parsed list.
    const again = await register(assets, "trustno1");
    expect(again.res.status).toBe(422);
    expect(paths).toHaveLength(1);
  });

  it("accepts a password that is not on the list", async () => {
    const { assets, paths } = countingAssets();
    const { res, client, email } = await register(assets, PASSWORD);
    expect(res.status).toBe(202);
    expect(client.mailbox.last(email).subject).toBeTypeOf("string");
    expect(await accountExists(email)).toBe(true);
    expect(paths).toEqual([PASSWORD_LIST_PATH]);
  });

  it("applies the length rule before it needs the list", async () => {
    const { assets, paths } = countingAssets(async () => new Response(null, { status: 404 }));
    const { res } = await register(assets, "short");
    expect(res.status).toBe(422);
    expect(res.body.code).toBe("weak_password");
    expect(paths).toEqual([]);
  });
});

describe("common-password list missing or damaged: fails closed", () => {
  const damaged: Record<string, () => Response> = {
    "a 404 (the file was not built)": () => new Response("", { status: 404 }),
    "a 500": () => new Response("oops", { status: 500 }),
    "a foreign file (an HTML fallback)": () => new Response("<!doctype html><p>app</p>\n", { status: 200 }),
    "a truncated list": () =>
      new Response(`${PASSWORD_LIST_HEADER} 49233\npassword\nqwerty\n`, { status: 200 }),
    "an empty list": () => new Response(`${PASSWORD_LIST_HEADER} 0\n`, { status: 200 }),
  };
  it.each(Object.keys(damaged))(
    "answers 500 misconfigured on %s, creates nothing, logs the fix",
    async (name) => {
      const logged = vi.spyOn(console, "error").mockImplementation(() => {});
      const serve = damaged[name] as () => Response;
      const { assets } = countingAssets(async () => serve());
      const { res, client, email } = await register(assets, PASSWORD);
      expect(res.status).toBe(500);
      expect(res.body.code).toBe("misconfigured");
      expect(res.headers.get("Content-Type")).toContain("application/problem+json");
      // The operator's reason is in the log, not in the answer.
      expect(res.text).not.toContain(PASSWORD_LIST_PATH);
      expect(logged.mock.calls.flat().join("\n")).toMatch(/common-password list.*copy-assets/);
      expect(logged.mock.calls.flat().join("\n")).not.toContain(PASSWORD);
      expect(client.mailbox.to(email)).toHaveLength(0);
      expect(await accountExists(email)).toBe(false);
    },
  );

  it("answers 500 misconfigured without an ASSETS binding", async () => {
    const logged = vi.spyOn(console, "error").mockImplementation(() => {});
    const { res, email } = await register(undefined, PASSWORD);
    expect(res.status).toBe(500);
    expect(res.body.code).toBe("misconfigured");
    expect(logged.mock.calls.flat().join("\n")).toMatch(/no ASSETS binding/);
    expect(await accountExists(email)).toBe(false);
    await expect(loadCommonPasswords(undefined)).rejects.toBeInstanceOf(ConfigError);
  });

  it("does not keep a failed load: the next check tries again and succeeds once the file is there", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    let missing = true;
    const { assets, paths } = countingAssets(async (p) =>
      missing ? new Response("", { status: 404 }) : realAssets.fetch(`https://a${p}`),
    );
    expect((await register(assets, PASSWORD)).res.status).toBe(500);
    expect((await register(assets, PASSWORD)).res.status).toBe(500);
    missing = false;
    expect((await register(assets, "password123")).res.status).toBe(422);
    expect((await register(assets, PASSWORD)).res.status).toBe(202);
    expect(paths).toHaveLength(3);
  });

  it("refuses a password change the same way, and the old password keeps working", async () => {
    const logged = vi.spyOn(console, "error").mockImplementation(() => {});
    const user = await createVerifiedUser(testClient());
    const { assets } = countingAssets(async () => new Response("", { status: 404 }));
    const broken = testClient({}, { ASSETS: assets });
    const res = await broken.call("POST", "/auth/password/change", {
      token: user.tokens.access_token,
      json: { current_password: PASSWORD, new_password: "a-brand-new-Passphrase-42" },
    });
    expect(res.status).toBe(500);
    expect(res.body.code).toBe("misconfigured");
    expect(logged.mock.calls.flat().join("\n")).not.toContain("a-brand-new-Passphrase-42");
    const login = await testClient().call("POST", "/auth/login", {
      json: { email: user.email, password: PASSWORD },
    });
    expect(login.status).toBe(200);
  });
});
