// The example app's PostgreSQL smoke test: connects with the URLs in the stack outputs
// (DBSTACK_OUTPUTS), writes as the owner, reads as the read-only user, and checks that the
// read-only user cannot write. Passwords stay in this process: no command line sees them.
const { Client } = require("pg");

async function withClient(url, fn) {
  const u = new URL(url);
  const client = new Client({
    host: u.hostname,
    port: Number(u.port),
    user: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
    database: u.pathname.slice(1),
    ssl: { rejectUnauthorized: false }, // sslmode=require: encrypted, certificate not verified
  });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function main() {
  const outputs = JSON.parse(process.env.DBSTACK_OUTPUTS);
  for (const [name, pg] of Object.entries(outputs.postgres ?? {})) {
    const owner = pg.urls.app.app.postgresql;
    const reader = pg.urls.reader.app.postgresql;
    await withClient(owner, (c) => c.query("INSERT INTO users (email) VALUES ('smoke@example.com')"));
    const rows = await withClient(reader, (c) => c.query("SELECT email FROM users"));
    if (rows.rows.length !== 1) throw new Error(`postgres ${name}: the reader sees ${rows.rows.length} users, expected 1`);
    const denied = await withClient(reader, (c) => c.query("INSERT INTO users (email) VALUES ('x@example.com')")).then(
      () => false,
      (err) => /permission denied/.test(err.message),
    );
    if (!denied) throw new Error(`postgres ${name}: the read-only user could write`);
    console.log(`postgres smoke test passed (${name})`);
  }
}

main().catch((err) => {
  console.error(`smoke test: ${err.message}`);
  process.exit(1);
});
