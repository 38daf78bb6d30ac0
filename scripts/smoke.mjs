// `npm run smoke -- https://auth.example.com`: a post-deploy check that creates nothing. It reads /health,
// /docs, /openapi.json and the JWKS, checks the security headers, and tries one login that must fail.
// Exit code 0 when every check passes; each failure is printed with what was expected.
const base = process.argv[2]?.replace(/\/+$/, "");
if (!base || !/^https?:\/\/[^/]/.test(base)) {
  console.error("usage: npm run smoke -- <base URL>, e.g. npm run smoke -- https://auth.example.com");
  process.exit(2);
}

const results = [];
async function check(name, fn) {
  try {
    await fn();
    results.push({ name, ok: true });
    console.log(`  ok    ${name}`);
  } catch (err) {
    results.push({ name, ok: false });
    console.log(`  FAIL  ${name}: ${err instanceof Error ? err.message : String(err)}`);
  }
}
function expect(condition, message) {
  if (!condition) throw new Error(message);
}
async function get(path, init) {
  const res = await fetch(`${base}${path}`, {
    redirect: "manual",
    signal: AbortSignal.timeout(10_000),
    ...init,
  });
  return res;
}

console.log(`edge-auth smoke test against ${base}`);

await check("GET /health is 200 ok, every migration applied", async () => {
  const res = await get("/health");
  const body = await res.json().catch(() => ({}));
  expect(res.status === 200, `status ${res.status}: ${JSON.stringify(body)}`);
  expect(body.status === "ok", `status field ${body.status}`);
  expect(body.schema?.found === body.schema?.expected, `schema ${JSON.stringify(body.schema)}`);
});

await check("GET /docs serves the API documentation", async () => {
  const res = await get("/docs");
  expect(res.status === 200, `status ${res.status}`);
  expect((res.headers.get("content-type") ?? "").startsWith("text/html"), "not HTML");
  const css = await get("/vendor/swagger-ui/swagger-ui.css");
  expect(css.status === 200, `Swagger UI assets: status ${css.status} (assets binding missing?)`);
});

await check("GET /openapi.json is an OpenAPI 3.1 document", async () => {
  const res = await get("/openapi.json");
  const doc = await res.json();
  expect(res.status === 200 && String(doc.openapi).startsWith("3.1"), `status ${res.status}`);
  expect(doc.paths?.["/auth/login"], "no /auth/login in paths");
});

await check("GET /.well-known/jwks.json answers a key set", async () => {
  const res = await get("/.well-known/jwks.json");
  const body = await res.json();
  expect(res.status === 200 && Array.isArray(body.keys), `status ${res.status}`);
});

await check("security headers are set", async () => {
  const res = await get("/health");
  const h = res.headers;
  expect(h.get("x-request-id"), "no X-Request-Id");
  expect(h.get("x-content-type-options") === "nosniff", "X-Content-Type-Options is not nosniff");
  expect((h.get("content-security-policy") ?? "").includes("default-src 'none'"), "no strict CSP");
  expect(h.get("cache-control") === "no-store", `Cache-Control ${h.get("cache-control")}`);
  if (base.startsWith("https://")) expect(h.get("strict-transport-security"), "no Strict-Transport-Security");
});

await check("an invalid login is a 401 problem (nothing is registered)", async () => {
  const email = `smoke-${crypto.randomUUID()}@example.invalid`;
  const res = await get("/auth/login", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ email, password: "not-the-password-of-anyone" }),
  });
  const body = await res.json().catch(() => ({}));
  expect(res.status === 401 || res.status === 429, `status ${res.status}: ${JSON.stringify(body)}`);
  expect((res.headers.get("content-type") ?? "").startsWith("application/problem+json"), "not problem+json");
});

const failed = results.filter((r) => !r.ok).length;
console.log(
  failed === 0 ? `all ${results.length} checks passed` : `${failed} of ${results.length} checks failed`,
);
process.exit(failed === 0 ? 0 : 1);
