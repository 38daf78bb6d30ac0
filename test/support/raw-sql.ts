import { env } from "cloudflare:workers";
import pg from "pg";
import { getConfig } from "../../src/config";

/**
 * A statement run straight against the store the app uses, as an attacker with database access would:
 * no repository, no service. Written with `?` placeholders (numbered for Postgres).
 */
export async function rawSql(statement: string, params: unknown[] = []): Promise<Record<string, unknown>[]> {
  const url = getConfig(env).DATABASE_URL;
  if (!url) {
    const { results } = await env.DB.prepare(statement)
      .bind(...params)
      .all<Record<string, unknown>>();
    return results;
  }
  let n = 0;
  const numbered = statement.replace(/\?/g, () => `$${++n}`);
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  client.on("error", () => {}); // workerd: "socket has been closed" after end()
  await client.connect();
  try {
    return (await client.query(numbered, params)).rows;
  } finally {
    await client.end().catch(() => {});
  }
}
