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

# A RAI database for the local server to hold, with the tables raiops reads
# (DESIGN.md §2: the RAI application owns them; raiops does not).
node -e "
const mysql = require('mysql2/promise')
mysql.createConnection({host: '127.0.0.1', user: 'root', multipleStatements: true}).then(async (c) => {
  await c.query(\`
    CREATE DATABASE IF NOT EXISTS rai_quickstart CHARACTER SET utf8mb4;
    USE rai_quickstart;
    CREATE TABLE IF NOT EXISTS tenants (id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY, name VARCHAR(255) NOT NULL,
      primary_contact_name VARCHAR(255), primary_contact_email VARCHAR(255), status VARCHAR(32), created_at TIMESTAMP NULL, updated_at TIMESTAMP NULL);
    CREATE TABLE IF NOT EXISTS users (id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY, tenant_id BIGINT UNSIGNED NOT NULL, name VARCHAR(255),
      email VARCHAR(255) NOT NULL, password VARCHAR(255), status VARCHAR(32), is_ghost TINYINT(1) NOT NULL DEFAULT 0, created_at TIMESTAMP NULL, updated_at TIMESTAMP NULL);
    CREATE TABLE IF NOT EXISTS locations (id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY, tenant_id BIGINT UNSIGNED NOT NULL, name VARCHAR(255),
      created_at TIMESTAMP NULL, updated_at TIMESTAMP NULL);
    CREATE TABLE IF NOT EXISTS user_email_routing (id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY, email VARCHAR(255) NOT NULL, tenant_id BIGINT UNSIGNED NOT NULL,
      rds_instance_id BIGINT UNSIGNED NOT NULL, user_id BIGINT UNSIGNED NOT NULL, password_hash VARCHAR(255), status VARCHAR(32),
      created_at TIMESTAMP NULL, updated_at TIMESTAMP NULL);
  \`)
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
