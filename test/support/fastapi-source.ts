// A FastAPI service's database (its `users` and `activity_logs` tables, as API.md describes them) in a
// schema of its own inside the test Postgres: the source `npm run import:fastapi` reads from.
import bcrypt from "bcryptjs";
import pg from "pg";

export interface FastapiSource {
  /** A connection string whose search_path is the FastAPI schema. */
  url: string;
  /** Old user ids are base + 1 (alice, admin, 2FA), + 2 (Bob), + 3 (a case-duplicate of Bob), + 4 (bad hash). */
  base: number;
  email(name: string): string;
  /** Runs SQL in the source schema. */
  sql(text: string, values?: unknown[]): Promise<void>;
  drop(): Promise<void>;
}

async function run(url: string, text: string, values: unknown[] = []): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  client.on("error", () => {});
  await client.connect();
  try {
    await client.query(text, values);
  } finally {
    await client.end().catch(() => {});
  }
}

export async function createFastapiSource(databaseUrl: string): Promise<FastapiSource> {
  const schema = `fastapi_${crypto.randomUUID().slice(0, 8)}`;
  const url = `${databaseUrl}${databaseUrl.includes("?") ? "&" : "?"}options=${encodeURIComponent(`-c search_path=${schema}`)}`;
  const base = Math.floor(Math.random() * 2e6) * 1000;
  const email = (name: string) => `${name}.${base}@example.com`;
  const hash = bcrypt.hashSync("old-password", 4);
  await run(databaseUrl, `create schema ${schema}`);
  await run(
    databaseUrl,
    `create table ${schema}.users(id serial primary key, username varchar unique not null, email varchar unique not null,
    hashed_password varchar not null, role varchar not null default 'user', is_active boolean, is_verified boolean,
    verification_token varchar unique null, two_factor_secret varchar null, two_factor_enabled boolean)`,
  );
  await run(
    databaseUrl,
    `create table ${schema}.activity_logs(id serial primary key, user_id integer references ${schema}.users(id),
    action varchar, timestamp timestamp)`,
  );
  await run(databaseUrl, `select setval('${schema}.users_id_seq', ${base})`);
  await run(
    databaseUrl,
    `insert into ${schema}.users(username,email,hashed_password,role,is_active,is_verified,two_factor_secret,two_factor_enabled) values
     ($1,$2,$3,'admin',true,true,'JBSWY3DPEHPK3PXP',true), ($4,$5,$3,'user',true,true,null,false),
     ($6,$7,$3,'user',true,true,null,false), ($8,$9,'not-a-bcrypt-hash','user',true,true,null,false)`,
    [
      `alice${base}`,
      email("alice"),
      hash,
      `Bob${base}`,
      email("Bob"),
      `bob2${base}`,
      email("bob").toUpperCase(),
      `carol${base}`,
      email("carol"),
    ],
  );
  await run(
    databaseUrl,
    `insert into ${schema}.activity_logs(user_id,action,timestamp) values ($1,'register',now()),($1,'login',now()),($2,'2fa_enable',now()),(null,'startup',now())`,
    [base + 1, base + 2],
  );
  return {
    url,
    base,
    email,
    sql: (text, values) => run(url, text, values),
    drop: () => run(databaseUrl, `drop schema ${schema} cascade`),
  };
}
