/** A string binding the pg-redis project must set; a clear failure beats a confusing one later. */
export function requireSetting(env: Record<string, unknown>, name: string): string {
  const value = env[name];
  if (typeof value !== "string" || value === "") {
    throw new Error(`${name} is not bound: run this file through the pg-redis vitest project`);
  }
  return value;
}
