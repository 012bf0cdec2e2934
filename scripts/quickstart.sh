#!/usr/bin/env bash
# The quick start: install, build, then register the local MariaDB as an RDS,
# test it and probe its health, with raiops' state kept in ./.quickstart (or $RAIOPS_HOME).
set -euo pipefail
cd "$(dirname "$0")/.."

[ -d node_modules ] || npm ci --no-audit --no-fund
npm run build --silent
node scripts/test-servers.mjs --mysql-only

export RAIOPS_HOME="${RAIOPS_HOME:-$PWD/.quickstart}"
raiops() { node bin/run.js "$@"; }

# A RAI database for the local server to hold, with the tables raiops reads: the
# fleet contract of DESIGN.md §2 in scripts/fleet-schema.sql (the RAI application
# owns them; raiops does not). The README's step-by-step does the same with the
# mariadb client; this script needs only Node.
node -e "
const mysql = require('mysql2/promise')
const sql = require('fs').readFileSync('scripts/fleet-schema.sql', 'utf8')
mysql.createConnection({host: '127.0.0.1', user: 'root', multipleStatements: true}).then(async (c) => {
  await c.query('CREATE DATABASE IF NOT EXISTS rai_quickstart CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci')
  await c.query('USE rai_quickstart')
  await c.query(sql)
  await c.end()
})"

echo "+ raiops init"
printf '%s\n' "${QUICKSTART_ADMIN_PASSWORD:-quickstart-admin-password}" |
  raiops init --admin-email admin@example.com --admin-name "Quickstart Admin" --password-stdin

if ! raiops rds:show local >/dev/null 2>&1; then
  echo "+ raiops rds:add --name local --host 127.0.0.1 --port 3306 --username root --rai-database rai_quickstart --master"
  raiops rds:add --name local --host 127.0.0.1 --port 3306 --username root --rai-database rai_quickstart --master
fi
echo "+ raiops rds:list"
raiops rds:list
echo "+ raiops rds:test local"
raiops rds:test local
echo "+ raiops rds:health"
raiops rds:health
echo "+ raiops sync:all"
raiops sync:all
echo "+ raiops status"
raiops status
echo
echo "raiops is set up in $RAIOPS_HOME. Try: RAIOPS_HOME=$RAIOPS_HOME ./bin/run.js --help"
