// Which Postgres failures mean "storage unavailable" (503) and which are bugs (500).
import { describe, expect, it } from "vitest";
import { isConnectionError } from "../../src/storage/postgres/connection";

const serverError = (code: string) => Object.assign(new Error("server says no"), { severity: "FATAL", code });

describe("isConnectionError", () => {
  it("treats a dead link or a stopping server as unavailable", () => {
    expect(isConnectionError(Object.assign(new Error("connect failed"), { code: "ECONNREFUSED" }))).toBe(
      true,
    );
    expect(isConnectionError(new Error("Connection terminated unexpectedly"))).toBe(true);
    expect(isConnectionError(new Error("This socket has been closed"))).toBe(true);
    expect(isConnectionError(new Error("Query read timeout"))).toBe(true); // pg query_timeout
    expect(isConnectionError(serverError("57P01"))).toBe(true); // admin_shutdown (pg_terminate_backend)
    expect(isConnectionError(serverError("57P03"))).toBe(true); // cannot_connect_now (starting up)
    expect(isConnectionError(serverError("08006"))).toBe(true);
    expect(isConnectionError(serverError("53300"))).toBe(true); // too_many_connections
  });

  it("leaves query errors alone", () => {
    expect(isConnectionError(serverError("23505"))).toBe(false); // unique_violation
    expect(isConnectionError(serverError("42P01"))).toBe(false); // undefined_table: a missing migration
    expect(isConnectionError(new TypeError("x is not a function"))).toBe(false);
    expect(isConnectionError("oops")).toBe(false);
  });
});
