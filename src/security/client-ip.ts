/**
 * The key per-IP limits count under. One IPv6 customer is routinely given a whole /64 (2^64 addresses), so
 * keying IPv6 by the full address would hand an attacker a fresh bucket per request: IPv6 clients are keyed
 * by their /64 prefix, IPv4 clients by their address. An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) is the
 * IPv4 client it maps. Anything that is not an IP address shares one "unknown" bucket, so a garbage header
 * never buys its sender a bucket of its own.
 */
export const UNKNOWN_CLIENT = "unknown";

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
// Hex groups, colons and an optional trailing dotted quad; everything else is refused before parsing.
const IPV6_CHARS = /^[0-9a-f:.]{2,45}$/i;

/** The eight 16-bit groups of an IPv6 address, or null when it is not one (validated by the URL parser). */
function ipv6Groups(candidate: string): number[] | null {
  if (!IPV6_CHARS.test(candidate)) return null;
  let host: string;
  try {
    // WHATWG URL parsing validates IPv6 (RFC 4291 text forms, `::` compression, embedded IPv4) and
    // serialises it canonically (RFC 5952: lower case, compressed, embedded IPv4 as hex groups).
    host = new URL(`http://[${candidate}]/`).hostname;
  } catch {
    return null;
  }
  const inner = host.slice(1, -1);
  const [head = "", tail] = inner.split("::");
  const left = head ? head.split(":") : [];
  const right = tail ? tail.split(":") : [];
  const missing = 8 - left.length - right.length;
  if (tail === undefined ? missing !== 0 : missing < 1) return null;
  const groups = [...left, ...Array<string>(tail === undefined ? 0 : missing).fill("0"), ...right].map((g) =>
    Number.parseInt(g, 16),
  );
  return groups.length === 8 && groups.every((g) => g >= 0 && g <= 0xffff) ? groups : null;
}

export function rateLimitKey(ip: string | null | undefined): string {
  // A zone id (`fe80::1%eth0`) names a local interface, not a client: it is dropped.
  const address = ip?.trim().split("%")[0] ?? "";
  if (IPV4.test(address)) return address;
  const groups = ipv6Groups(address);
  if (!groups) return UNKNOWN_CLIENT;
  // ::ffff:0:0/96 is IPv4-mapped: the same client as its IPv4 address.
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    const [hi = 0, lo = 0] = groups.slice(6);
    return [hi >> 8, hi & 0xff, lo >> 8, lo & 0xff].join(".");
  }
  return `${groups
    .slice(0, 4)
    .map((g) => g.toString(16))
    .join(":")}::/64`;
}
