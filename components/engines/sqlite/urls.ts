/** The ways applications name an SQLite database. `path` must be absolute. */
export interface SqliteUrls {
  /** The plain file path, for the sqlite3 CLI and most drivers. */
  path: string;
  /** SQLAlchemy / Alembic URL: `sqlite:///` followed by the absolute path. */
  sqlalchemy: string;
  /** RFC 8089 `file:` URI, for SQLite's URI filenames (`sqlite3_open_v2` with SQLITE_OPEN_URI). */
  fileUri: string;
}

export function sqliteUrls(path: string): SqliteUrls {
  if (!path.startsWith("/")) throw new Error(`sqlite path must be absolute, got ${JSON.stringify(path)}`);
  const encoded = path.split("/").map(encodeURIComponent).join("/");
  return { path, sqlalchemy: `sqlite:///${path}`, fileUri: `file://${encoded}` };
}
