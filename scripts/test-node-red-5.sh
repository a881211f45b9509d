#!/usr/bin/env bash
# The node tests on Node-RED 5 with Node 22 (Node-RED 5 needs Node >= 22.9): Node-RED 5 goes into a
# temporary prefix, Node 22 comes from the npm package node@22, and the suite loads that Node-RED
# through NODE_RED_PATH. Run after `npm run build` (npm test builds).
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
npm install --no-save --no-audit --no-fund --prefix "$prefix" node-red@5.0.7 >/dev/null
echo "Node-RED $(node -p "require('$prefix/node_modules/node-red/package.json').version") on $(npx -y -p node@22.23.3 node --version)"
NODE_RED_PATH="$prefix/node_modules/node-red" npx -y -p node@22.23.3 node node_modules/.bin/mocha 'test/nodes/**/*.test.js' 'test/demo/**/*.test.js'
