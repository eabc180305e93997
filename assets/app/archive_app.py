#!/usr/bin/env python3
"""Stand-in archive application for the archive stack.

On start it applies the SQL files under migrations/ (in file-name order) that
are not yet recorded in `schema_migrations`, like `rails db:prepare`, then
serves a status page on APP_PORT:

  GET /         JSON: role, host, database, row counts, heartbeat, migrations
  GET /health   200 "ok" once the migrations are applied and the db answers

`python3 archive_app.py healthcheck` is the container's healthcheck.

Environment: ARCHIVE_DB_HOST (db), ARCHIVE_DB_PORT (5432), ARCHIVE_DB_NAME,
ARCHIVE_DB_USER, ARCHIVE_DB_PASSWORD or ARCHIVE_DB_PASSWORD_FILE,
ARCHIVE_ROLE, APP_HOST, APP_PORT (or PORT).
"""
import datetime
import json
import os
import socket
import sys
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psycopg2

HERE = os.path.dirname(os.path.abspath(__file__))
MIGRATIONS = os.path.join(HERE, "migrations")
PORT = int(os.environ.get("APP_PORT") or os.environ.get("PORT") or "3000")
COUNTED = ("collections", "items", "files")


def log(msg):
    print(f"archive-app: {msg}", flush=True)


def password():
    val = os.environ.get("ARCHIVE_DB_PASSWORD", "")
    path = os.environ.get("ARCHIVE_DB_PASSWORD_FILE", "")
    if not val and path:
        try:
            with open(path) as fh:
                val = fh.read().rstrip("\n")
        except OSError:
            val = ""
    return val


def connect():
    return psycopg2.connect(
        host=os.environ.get("ARCHIVE_DB_HOST", "db"),
        port=int(os.environ.get("ARCHIVE_DB_PORT", "5432")),
        dbname=os.environ.get("ARCHIVE_DB_NAME", "archive_production"),
        user=os.environ.get("ARCHIVE_DB_USER", "archive"),
        password=password(),
        connect_timeout=5,
        application_name="archive-app",
    )


def migrate():
    conn = connect()
    conn.autocommit = False
    with conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(hashtext('archive-app-migrations'))")
        cur.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version varchar PRIMARY KEY)")
        cur.execute(
            "CREATE TABLE IF NOT EXISTS ar_internal_metadata (key varchar PRIMARY KEY,"
            " value varchar, created_at timestamp(6) NOT NULL DEFAULT now(),"
            " updated_at timestamp(6) NOT NULL DEFAULT now())")
        cur.execute(
            "INSERT INTO ar_internal_metadata (key, value) VALUES ('environment', %s)"
            " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()",
            (os.environ.get("RAILS_ENV", "production"),))
        cur.execute("SELECT version FROM schema_migrations")
        done = {r[0] for r in cur.fetchall()}
        applied = 0
        for name in sorted(os.listdir(MIGRATIONS)):
            if not name.endswith(".sql"):
                continue
            version = name.split("_", 1)[0]
            if version in done:
                continue
            with open(os.path.join(MIGRATIONS, name)) as fh:
                cur.execute(fh.read())
            cur.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))
            log(f"migrated {name}")
            applied += 1
    conn.commit()
    conn.close()
    log(f"migrations up to date ({applied} applied now, {len(done) + applied} total)")


def status():
    conn = connect()
    conn.autocommit = True
    out = {
        "role": os.environ.get("ARCHIVE_ROLE", ""),
        "host": os.environ.get("APP_HOST", ""),
        "hostname": socket.gethostname(),
        "database": os.environ.get("ARCHIVE_DB_NAME", "archive_production"),
        "time": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "counts": {},
    }
    with conn.cursor() as cur:
        for t in COUNTED:
            cur.execute(f"SELECT count(*) FROM {t}")
            out["counts"][t] = cur.fetchone()[0]
        cur.execute("SELECT version FROM schema_migrations ORDER BY version")
        out["migrations"] = [r[0] for r in cur.fetchall()]
        cur.execute("SELECT to_regclass('public.archive_heartbeat') IS NOT NULL")
        if cur.fetchone()[0]:
            cur.execute("SELECT beat, extract(epoch FROM now() - beat) FROM archive_heartbeat"
                        " ORDER BY beat DESC LIMIT 1")
            row = cur.fetchone()
            out["heartbeat"] = ({"beat": row[0].isoformat(), "age_seconds": round(float(row[1]), 1)}
                                if row else None)
    conn.close()
    return out


class Handler(BaseHTTPRequestHandler):
    def _send(self, code, body, ctype):
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        try:
            st = status()
        except Exception as exc:  # db down: say so, never a password
            self._send(503, json.dumps({"error": str(exc).strip()}) + "\n", "application/json")
            return
        if self.path.startswith("/health"):
            self._send(200, "ok\n", "text/plain")
        else:
            self._send(200, json.dumps(st, indent=2) + "\n", "application/json")

    def log_message(self, fmt, *args):
        if not self.path.startswith("/health"):
            log("%s %s" % (self.address_string(), fmt % args))


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "healthcheck":
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{PORT}/health", timeout=4) as r:
                sys.exit(0 if r.status == 200 else 1)
        except Exception:
            sys.exit(1)
    if not password():
        log("error: ARCHIVE_DB_PASSWORD is not set: set ARCHIVE_DB_PASSWORD or "
            "ARCHIVE_DB_PASSWORD_FILE (a file under /run/secrets/archive) in env.common")
        while True:
            time.sleep(3600)
    last = ""
    while True:
        try:
            migrate()
            break
        except Exception as exc:
            msg = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
            if msg != last:
                log(f"waiting for the database: {msg}")
                last = msg
            time.sleep(2)
    server = ThreadingHTTPServer(("0.0.0.0", PORT), Handler)
    log(f"status page on port {PORT} (role={os.environ.get('ARCHIVE_ROLE', '')})")
    server.serve_forever()


if __name__ == "__main__":
    main()
