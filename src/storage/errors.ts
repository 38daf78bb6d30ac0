/**
 * Errors the storage layer throws for a caller's bad input. They import nothing, so src/errors.ts can map
 * them to HTTP answers without an import cycle.
 */

/** A list cursor that is not one this service issued, or that points where no backend can seek. */
export class InvalidCursorError extends Error {
  constructor() {
    super("Invalid cursor");
    this.name = "InvalidCursorError";
  }
}
