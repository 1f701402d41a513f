import { describe, expect, it } from "vitest";
import { commandEnvironment } from "../../components/copy/check/apply";
import { flavourUrl } from "../../components/copy/urlFlavours";
import { parseCheckArgs, UsageError } from "../../scripts/db-check";

// Issue 19, deliverable 4: applications get DATABASE_URL in the flavour their driver opens.

describe("URL flavours", () => {
  const pg = "postgresql://app:p%40ss@127.0.0.1:6799/shop?sslmode=require";
  const my = "mysql://app:p%40ss@127.0.0.1:6798/shop";
  it("sqlalchemy: psycopg 3 and PyMySQL, never a driver the app lacks", () => {
    expect(flavourUrl(pg, "sqlalchemy")).toBe("postgresql+psycopg://app:p%40ss@127.0.0.1:6799/shop?sslmode=require");
    expect(flavourUrl(my, "sqlalchemy")).toBe("mysql+pymysql://app:p%40ss@127.0.0.1:6798/shop");
    expect(flavourUrl("mariadb://app@h:3306/x", "sqlalchemy")).toBe("mysql+pymysql://app@h:3306/x");
    expect(flavourUrl("sqlite:///srv/app.db", "sqlalchemy")).toBe("sqlite:////srv/app.db");
  });

  it("libpq, jdbc and the default", () => {
    expect(flavourUrl("postgres://app@h:5/x", "libpq")).toBe("postgresql://app@h:5/x");
    expect(flavourUrl(pg, "jdbc")).toBe("jdbc:postgresql://127.0.0.1:6799/shop?user=app&password=p%40ss&sslmode=require");
    expect(flavourUrl(my, "jdbc")).toBe("jdbc:mariadb://127.0.0.1:6798/shop?user=app&password=p%40ss");
    expect(flavourUrl("/srv/app.db", "jdbc")).toBe("jdbc:sqlite:/srv/app.db");
    expect(flavourUrl(pg, "default")).toBe(pg);
    expect(flavourUrl(my, "libpq")).toBe(my);
  });

  it("db:check --command --url sqlalchemy hands the command that flavour; the default is unchanged", () => {
    expect(commandEnvironment(my, "mariadb", "sqlalchemy").DATABASE_URL).toBe("mysql+pymysql://app:p%40ss@127.0.0.1:6798/shop");
    expect(commandEnvironment(my, "mariadb").DATABASE_URL).toBe(my);
    expect(parseCheckArgs(["--command", "alembic upgrade head", "--url", "sqlalchemy"], {}).url).toBe("sqlalchemy");
    expect(parseCheckArgs(["--command", "alembic upgrade head"], {}).url).toBe("default");
    expect(() => parseCheckArgs(["--command", "x", "--url", "mysqldb"], {})).toThrow(UsageError);
    expect(() => parseCheckArgs(["--command", "x", "--url", "mysqldb"], {})).toThrow(/--url "mysqldb" is not a URL flavour: use default, sqlalchemy, libpq, jdbc/);
    expect(() => parseCheckArgs(["--migrations", "d", "--url", "jdbc"], {})).toThrow(/goes with --command only/);
  });
});
