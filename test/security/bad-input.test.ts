import { describe, expect, it } from "vitest";
import { EmailSchema, isValidEmail } from "../../src/lib/email-address";
import { findDuplicateKey, jsonDepth } from "../../src/security/json-guard";
import { type ApiResponse, createVerifiedUser, PASSWORD, testClient, uniqueEmail } from "../helpers";

function expectProblem(res: ApiResponse, status: number): void {
  expect(res.status, res.text).toBe(status);
  expect(res.headers.get("Content-Type")).toBe("application/problem+json; charset=utf-8");
  expect(res.body.status).toBe(status);
}

const raw = (body: BodyInit, type = "application/json") => ({ body, headers: { "Content-Type": type } });

describe("JSON duplicate-key detector", () => {
  it("finds repeated keys at any depth, decoding escapes, and ignores keys inside strings", () => {
    expect(findDuplicateKey('{"a":1,"b":2}')).toBeNull();
    expect(findDuplicateKey('{"a":1,"a":2}')).toBe("a");
    expect(findDuplicateKey('{"x":[{"k":1},{"k":2}],"y":{"k":{"z":1,"z":2}}}')).toBe("z");
    expect(findDuplicateKey('{"a":1,"\\u0061":2}')).toBe("a");
    expect(findDuplicateKey('{"a":"\\"a\\":1","b":"a"}')).toBeNull();
    expect(findDuplicateKey('[{"a":1},{"a":1}]')).toBeNull();
    expect(findDuplicateKey('{"a":{"a":{"a":1}}}')).toBeNull();
  });

  it("measures depth without recursion", () => {
    expect(jsonDepth('{"a":"[[[["}')).toBe(1);
    expect(jsonDepth(`${"[".repeat(10_000)}${"]".repeat(10_000)}`)).toBe(10_000);
  });
});

describe("bad input is 4xx problem+json, never 500", () => {
  it("rejects duplicate keys, top-level and nested, with 400", async () => {
    const client = testClient();
    const email = uniqueEmail();
    expectProblem(
      await client.call(
        "POST",
        "/auth/register",
        raw(`{"email":"${email}","password":"${PASSWORD}","email":"admin@example.com"}`),
      ),
      400,
    );
    expectProblem(
      await client.call(
        "POST",
        "/auth/login",
        raw('{"email":"a@example.com","password":"x","x":{"y":1,"y":2}}'),
      ),
      400,
    );
  });

  it("rejects invalid UTF-8 with 400, malformed or too deep JSON with 400", async () => {
    const client = testClient();
    const bad = new Uint8Array([0x7b, 0x22, 0x65, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]); // {"e":"\xff\xfe"}
    expectProblem(await client.call("POST", "/auth/password/forgot", raw(bad)), 400);
    const overlong = new Uint8Array([0x7b, 0x22, 0xc0, 0xaf, 0x22, 0x3a, 0x31, 0x7d]);
    expectProblem(await client.call("POST", "/auth/password/forgot", raw(overlong)), 400);
    expectProblem(await client.call("POST", "/auth/password/forgot", raw("{")), 400);
    expectProblem(await client.call("POST", "/auth/password/forgot", raw("")), 400);
    expectProblem(
      await client.call("POST", "/auth/password/forgot", raw(`${"[".repeat(5000)}${"]".repeat(5000)}`)),
      400,
    );
  });

  it("rejects NUL characters in any string, JSON or form", async () => {
    const client = testClient();
    expectProblem(
      await client.call("POST", "/auth/login", {
        json: { email: "a@example.com\u0000.evil", password: "x" },
      }),
      400,
    );
    expectProblem(
      await client.call("POST", "/auth/login", {
        json: { email: "a@example.com", password: "pass\u0000word" },
      }),
      400,
    );
    expectProblem(
      await client.call(
        "POST",
        "/auth/login",
        raw("username=a%40example.com&password=a%00b", "application/x-www-form-urlencoded"),
      ),
      400,
    );
  });

  it("rejects wrong types, arrays for strings and over-long strings with 422", async () => {
    const client = testClient();
    const cases: unknown[] = [
      { email: 42, password: "x" },
      { email: ["a@example.com"], password: "x" },
      { email: { $ne: null }, password: "x" },
      { email: "a@example.com", password: null },
      { email: `${"a".repeat(250)}@example.com`, password: "x" },
      { email: "a@example.com", password: "x".repeat(1025) },
      [],
      "a string",
      null,
      123,
    ];
    for (const json of cases) {
      const res = await client.call("POST", "/auth/login", { json });
      expectProblem(res, 422);
      expect(res.body.code).toBe("validation_error");
    }
    const name = await client.call("POST", "/auth/register", {
      json: { email: uniqueEmail(), password: PASSWORD, full_name: "x".repeat(101) },
    });
    expectProblem(name, 422);
    const control = await client.call("POST", "/auth/register", {
      json: { email: uniqueEmail(), password: PASSWORD, full_name: "Ada\u0007Lovelace" },
    });
    expectProblem(control, 422);
    const token = await client.call("POST", "/auth/verify", { json: { token: "not a token!" } });
    expectProblem(token, 422);
  });

  it("answers non-JSON content types with 415", async () => {
    const client = testClient();
    for (const type of [
      "text/plain",
      "application/xml",
      "multipart/form-data; boundary=x",
      "application/jsonx",
    ]) {
      expectProblem(await client.call("POST", "/auth/register", raw("{}", type)), 415);
    }
    // Forms only where a route takes one.
    expectProblem(
      await client.call(
        "POST",
        "/auth/register",
        raw("email=a%40example.com", "application/x-www-form-urlencoded"),
      ),
      415,
    );
  });

  it("inspects every body the 415 gate lets in as JSON (one content-type parser for both)", async () => {
    const client = testClient();
    const duplicate = '{"email":"a@example.com","password":"x","email":"admin@example.com"}';
    for (const type of [
      "application/json; charset=utf-8",
      "APPLICATION/JSON",
      "application/vnd.api+json",
      "application/a+b+json",
      "application/vnd.v2+json ; charset=utf-8",
    ]) {
      const res = await client.call("POST", "/auth/login", raw(duplicate, type));
      expectProblem(res, 400);
      expect(res.body.detail).toBe("The JSON body repeats a key.");
    }
  });

  it("ignores unknown fields: no mass assignment of role or verification", async () => {
    const client = testClient();
    const email = uniqueEmail();
    const reg = await client.call("POST", "/auth/register", {
      json: { email, password: PASSWORD, role: "admin", is_verified: true, is_active: true, id: "x" },
    });
    expect(reg.status).toBe(202);
    // Still unverified (is_verified was ignored): the right password reveals it.
    const login = await client.call("POST", "/auth/login", { json: { email, password: PASSWORD } });
    expect(login.status).toBe(403);
    expect(login.body.code).toBe("email_not_verified");
  });
});

describe("email addresses", () => {
  it("accepts ordinary and punycode addresses", () => {
    for (const ok of [
      "ada@example.com",
      "Ada.Lovelace+tag@Example.CO.uk",
      "o'brien@example.ie",
      "a_b-c%d@sub-domain.example.org",
      "user@xn--mnchen-3ya.de",
      "user@example.xn--p1ai",
      `${"a".repeat(64)}@example.com`,
    ]) {
      expect(isValidEmail(ok), ok).toBe(true);
    }
  });

  it("refuses unsafe local parts, non-LDH domains and over-long addresses", () => {
    for (const bad of [
      "plainaddress",
      "@example.com",
      "a@",
      "a@@example.com",
      "a@b@example.com",
      ".a@example.com",
      "a.@example.com",
      "a..b@example.com",
      '"quoted"@example.com',
      "a b@example.com",
      "a`id`@example.com",
      "a|b@example.com",
      "a/b@example.com",
      "a{b}@example.com",
      "a<script>@example.com",
      "ädä@example.com",
      "a@münchen.de",
      "a@localhost",
      "a@example",
      "a@-example.com",
      "a@example-.com",
      "a@exa_mple.com",
      "a@example.c0m",
      "a@[127.0.0.1]",
      "a@127.0.0.1",
      `${"a".repeat(65)}@example.com`,
      `a@${"b".repeat(64)}.com`,
      `a@${`${"b".repeat(60)}.`.repeat(5)}com`,
      "a@example.com\n",
    ]) {
      expect(isValidEmail(bad), bad).toBe(false);
    }
  });

  it("trims and NFC-normalises before checking", () => {
    expect(EmailSchema.parse("  Ada@Example.com \t")).toBe("Ada@Example.com");
    // A combining sequence is still outside the safe set after NFC.
    expect(EmailSchema.safeParse("e\u0301@example.com").success).toBe(false);
  });

  it("via /auth/register: trims, compares lower-cased and refuses bad addresses with 422", async () => {
    const client = testClient();
    const bad = await client.call("POST", "/auth/register", {
      json: { email: "a|b@example.com", password: PASSWORD },
    });
    expectProblem(bad, 422);
    expect(bad.body.errors[0].path).toBe("email");

    const user = await createVerifiedUser(client);
    const shouted = await client.call("POST", "/auth/login", {
      json: { email: `  ${user.email.toUpperCase()}  `, password: PASSWORD },
    });
    expect(shouted.status).toBe(200);
  });
});
