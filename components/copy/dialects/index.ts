/** The copy's dialect of each engine (see dialect.ts). */
import { unknownEngine, type EngineKind } from "../../model/engineKind";
import type { Dialect } from "./dialect";
import { mariadbDialect } from "./mariadb";
import { postgresDialect } from "./postgres";
import { sqliteDialect } from "./sqlite";

export type { Dialect, NeutralDefault } from "./dialect";

/** The dialect of `kind`; an engine this library does not know is an error. */
export function dialectFor(kind: EngineKind): Dialect {
  switch (kind) {
    case "postgres":
      return postgresDialect;
    case "mariadb":
      return mariadbDialect;
    case "sqlite":
      return sqliteDialect;
    default:
      return unknownEngine(kind);
  }
}
