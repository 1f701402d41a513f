import { describe, expect, it } from "vitest";
import { databaseUrl, sqliteDatabaseUrl } from "../../components/deploy/databaseUrl";
import { mariadbUrls } from "../../components/engines/mariadb/urls";
import { postgresUrls } from "../../components/engines/postgres/urls";
import { ConfigError, parseStackConfig } from "../../stacks/config";

// Issue 19, deliverable 4: `migrations: { command, url: sqlalchemy }` hands the command a URL its driver opens.

const c = { user: "app", password: "p@ss", host: "127.0.0.1", port: 6790, database: "shop" };

describe("a migration command's DATABASE_URL in the declared flavour", () => {
  it("default unchanged; sqlalchemy, libpq and jdbc as each engine spells them", () => {
    const pg = postgresUrls(c);
    expect(databaseUrl("postgres", pg, "postgresql")).toBe("postgresql://app:p%40ss@127.0.0.1:6790/shop?sslmode=require");
    expect(databaseUrl("postgres", pg, "postgresql", "sqlalchemy")).toBe("postgresql+psycopg://app:p%40ss@127.0.0.1:6790/shop?sslmode=require");
    expect(databaseUrl("postgres", pg, "postgresql", "libpq")).toBe("postgresql://app:p%40ss@127.0.0.1:6790/shop?sslmode=require");
    expect(databaseUrl("postgres", pg, "postgresql", "jdbc")).toBe("jdbc:postgresql://127.0.0.1:6790/shop?user=app&password=p%40ss&sslmode=require");
    const my = mariadbUrls(c);
    expect(databaseUrl("mariadb", my, "mysql")).toBe("mysql://app:p%40ss@127.0.0.1:6790/shop");
    expect(databaseUrl("mariadb", my, "mysql", "sqlalchemy")).toBe("mysql+pymysql://app:p%40ss@127.0.0.1:6790/shop?charset=utf8mb4");
    expect(databaseUrl("mariadb", my, "mysql", "jdbc")).toBe("jdbc:mariadb://127.0.0.1:6790/shop?user=app&password=p%40ss");
    expect(sqliteDatabaseUrl({ sqlalchemy: "sqlite:////srv/app.db", path: "/srv/app.db" }, "jdbc")).toBe("jdbc:sqlite:/srv/app.db");
    expect(sqliteDatabaseUrl({ sqlalchemy: "sqlite:////srv/app.db", path: "/srv/app.db" })).toBe("sqlite:////srv/app.db");
  });

  it("a flavour the project does not know is refused at preview time, naming the choices", () => {
    const raw = { "dbstack:sqlite": JSON.stringify({ app: { path: "/tmp/cp-app.db", migrations: { command: "alembic upgrade head", url: "mysqldb" } } }) };
    let message = "";
    try {
      parseStackConfig(raw);
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      message = (err as Error).message;
    }
    expect(message).toContain("migrations");
    expect(message).toContain("url?: default | sqlalchemy | libpq | jdbc");
    const ok = parseStackConfig({ "dbstack:sqlite": JSON.stringify({ app: { path: "/tmp/cp-app.db", migrations: { command: "alembic upgrade head", url: "sqlalchemy" } } }) });
    expect(JSON.stringify(ok)).toContain('"url":"sqlalchemy"');
  });
});
