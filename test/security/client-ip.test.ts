import { describe, expect, it } from "vitest";
import { rateLimitKey, UNKNOWN_CLIENT } from "../../src/security/client-ip";
import { testClient } from "../helpers";

describe("rateLimitKey", () => {
  it("keys IPv4 by the address", () => {
    expect(rateLimitKey("203.0.113.7")).toBe("203.0.113.7");
    expect(rateLimitKey(" 203.0.113.7 ")).toBe("203.0.113.7");
    expect(rateLimitKey("0.0.0.0")).toBe("0.0.0.0");
  });

  it("keys every address of one IPv6 /64 alike, whatever its spelling", () => {
    const key = "2001:db8:1234:5678::/64";
    for (const ip of [
      "2001:db8:1234:5678::1",
      "2001:0db8:1234:5678:0000:0000:0000:0002",
      "2001:DB8:1234:5678:ffff:ffff:ffff:ffff",
      "2001:db8:1234:5678:1::",
      "2001:db8:1234:5678:a:b:c:d",
      "fe80::1%eth0".replace("fe80::", "2001:db8:1234:5678::"),
      "2001:db8:1234:5678::1.2.3.4",
    ]) {
      expect(rateLimitKey(ip), ip).toBe(key);
    }
    expect(rateLimitKey("2001:db8:1234:5679::1")).toBe("2001:db8:1234:5679::/64");
    expect(rateLimitKey("::1")).toBe("0:0:0:0::/64");
    expect(rateLimitKey("::")).toBe("0:0:0:0::/64");
    expect(rateLimitKey("2001:db8::")).toBe("2001:db8:0:0::/64");
    expect(rateLimitKey("fe80::1%25eth0")).toBe("fe80:0:0:0::/64");
  });

  it("maps IPv4-mapped IPv6 to the IPv4 client", () => {
    expect(rateLimitKey("::ffff:203.0.113.7")).toBe("203.0.113.7");
    expect(rateLimitKey("::FFFF:cb00:7107")).toBe("203.0.113.7");
    expect(rateLimitKey("0:0:0:0:0:ffff:203.0.113.7")).toBe("203.0.113.7");
  });

  it("puts anything that is not an address into one shared bucket", () => {
    for (const junk of [
      null,
      undefined,
      "",
      "unknown",
      "256.1.1.1",
      "1.2.3",
      "01.2.3.4",
      "0x7f.0.0.1",
      "1.2.3.4.5",
      "2001:db8::1::2",
      "2001:db8:1:2:3:4:5:6:7",
      "12345::",
      "gggg::1",
      "[2001:db8::1]",
      "2001:db8::1/64",
      "localhost",
      "1.2.3.4, 5.6.7.8",
      "::ffff:999.1.1.1",
      "a".repeat(60),
    ]) {
      expect(rateLimitKey(junk), String(junk)).toBe(UNKNOWN_CLIENT);
    }
  });
});

const LIMITERS = {
  // Workers Rate Limiting bindings on D1/KV, Redis on Postgres/Redis.
  "the configured limiter": { RATE_LIMIT_ENABLED: "true" },
  "the relational counters": {
    RATE_LIMIT_ENABLED: "true",
    REDIS_URL: undefined,
    RL_LOGIN: undefined,
    RL_REGISTER: undefined,
    RL_VERIFY: undefined,
    RL_REFRESH: undefined,
    RL_DEFAULT: undefined,
  },
};

describe.each(Object.entries(LIMITERS))("IPv6 clients are limited per /64 (%s)", (_name, overrides) => {
  it("answers 429 to 30 logins from 30 addresses of one /64", async () => {
    const client = testClient({}, overrides);
    const b = crypto.getRandomValues(new Uint16Array(3));
    const prefix = `2001:db8:${b[0]!.toString(16)}:${b[1]!.toString(16)}`;
    const statuses: number[] = [];
    for (let i = 1; i <= 30; i++) {
      const res = await client.call("POST", "/auth/login", {
        // Invalid bodies: the limit counts before validation, and they cost no password hash.
        json: {},
        headers: { "CF-Connecting-IP": `${prefix}:${i.toString(16)}:${b[2]!.toString(16)}::${i}` },
      });
      statuses.push(res.status);
    }
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(15);
    expect(statuses.slice(0, 5)).toEqual([422, 422, 422, 422, 422]);

    // A neighbouring /64 is another customer: not limited.
    const other = await client.call("POST", "/auth/login", {
      json: {},
      headers: { "CF-Connecting-IP": `2001:db8:${b[0]!.toString(16)}:${(b[1]! ^ 1).toString(16)}::1` },
    });
    expect(other.status).toBe(422);
  });
});
