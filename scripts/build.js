#!/usr/bin/env node
/**
 * Builds the package: TypeScript to CommonJS in dist/, then what Node-RED looks for beside each
 * node's .js (editor .html, locales/, icons/) into dist/, and the sample flows into examples/,
 * the folder Node-RED's Import ▸ Examples menu reads, and into resources/ the core modules the editor
 * runs too (Node-RED serves that folder at resources/<module>/), so editor and runtime share one copy.
 */
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const dist = path.join(root, 'dist');
const examples = path.join(root, 'examples');
const resources = path.join(root, 'resources');
// Core modules without imports that the editor loads as <script src="resources/node-red-contrib-identity/…">.
const EDITOR_MODULES = ['presets'];

fs.rmSync(dist, { recursive: true, force: true });
fs.rmSync(examples, { recursive: true, force: true });
fs.rmSync(resources, { recursive: true, force: true });

execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.json')], {
  stdio: 'inherit',
});

for (const file of fs.readdirSync(path.join(root, 'nodes'))) {
  if (file.endsWith('.html')) fs.copyFileSync(path.join(root, 'nodes', file), path.join(dist, file));
}
fs.cpSync(path.join(root, 'nodes', 'locales'), path.join(dist, 'locales'), { recursive: true });
fs.cpSync(path.join(root, 'icons'), path.join(dist, 'icons'), { recursive: true });

fs.mkdirSync(examples, { recursive: true });
for (const file of fs.readdirSync(path.join(root, 'flows'))) {
  if (file.endsWith('.json')) fs.copyFileSync(path.join(root, 'flows', file), path.join(examples, file));
}

// tsc's CommonJS output, given an `exports` object that the editor finds at
// window.NodeRedContribIdentity.<module>.
fs.mkdirSync(resources, { recursive: true });
for (const name of EDITOR_MODULES) {
  const code = fs.readFileSync(path.join(dist, 'core', `${name}.js`), 'utf8').replace(/\n\/\/# sourceMappingURL=.*$/, '');
  if (/\brequire\(/.test(code)) throw new Error(`nodes/core/${name}.ts must not import anything: the editor runs it`);
  fs.writeFileSync(path.join(resources, `${name}.js`), [
    `// Built by scripts/build.js from nodes/core/${name}.ts for the editor; do not edit.`,
    '(function (exports) {',
    code.trimEnd(),
    `})((window.NodeRedContribIdentity = window.NodeRedContribIdentity || {}).${name} = {});`,
    '',
  ].join('\n'));
}
