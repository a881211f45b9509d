#!/usr/bin/env node
/**
 * `npm start`: Node-RED with this package's nodes and all the sample flows of flows/*.json, and the
 * demo identity provider (oidc-provider) mounted at /realms/demo, where Keycloak would serve a realm
 * "demo" (so the Keycloak preset of identity-config finds it), all on http://127.0.0.1:<PORT> (default
 * 1880). The provider issues 3-minute access tokens, as Keycloak and IFS do by default.
 *
 * Node-RED keeps its files in a project-local user directory (.node-red-demo/, never ~/.node-red);
 * the package is linked into its node_modules so that Node-RED loads it as an installed module,
 * with its Import ▸ Examples. On the first start the sample flows are deployed, with the demo client
 * secret given to each identity-config as a Node-RED credential (encrypted in flows_cred.json,
 * never in flows.json); the identity-config of the encrypted API gets the private half of the key pair
 * the provider encrypts its tokens to as its decryption key too (generated on the first start, kept in
 * the user directory as demo-token-encryption-key.json). The flows read the provider and their own URLs
 * from the environment:
 * IDENTITY_DEMO_ISSUER, IDENTITY_DEMO_PARTNER_ISSUER (a second realm, /realms/partners, whose only user is
 * carol), IDENTITY_DEMO_ORDERS_URL, IDENTITY_DEMO_CALLBACK_URL and IDENTITY_DEMO_BASE_URL (the public URL that
 * DPoP proofs name), set here.
 *
 * Environment: PORT (0 picks a free port), NODE_RED_DEMO_DIR (the user directory),
 * DEMO_CLIENT_SECRET (default "demo-client-secret"), NODE_RED_LOG_LEVEL (Node-RED's console log level,
 * default "info").
 */
'use strict';
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const express = require('express');
const RED = require('node-red');

const ROOT = path.resolve(__dirname, '..', '..');
const HOST = '127.0.0.1';
const FLOWS_DIR = path.join(ROOT, 'flows');
// The first tab of the editor; the other sample flows follow in file name order.
const FIRST_FLOW = 'protected-api.json';
// Like Keycloak's and IFS's defaults: short enough that the session sample refreshes during a demo.
const ACCESS_TOKEN_TTL_SEC = 180;

async function main() {
  const port = Number(process.env.PORT ?? 1880);
  const userDir = path.resolve(process.env.NODE_RED_DEMO_DIR ?? path.join(ROOT, '.node-red-demo'));
  const clientSecret = process.env.DEMO_CLIENT_SECRET || 'demo-client-secret';
  linkPackage(userDir);

  const app = express();
  const server = http.createServer(app);
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, HOST, resolve);
  });
  const base = `http://${HOST}:${server.address().port}`;
  const issuer = `${base}/realms/demo`;
  const partnerIssuer = `${base}/realms/partners`; // a second realm, with other people, for the provider chain
  const callback = `${base}/callback`;
  // Read by the sample flows as ${...} properties when Node-RED starts them.
  process.env.IDENTITY_DEMO_ISSUER = issuer; // every identity-config's issuer
  process.env.IDENTITY_DEMO_PARTNER_ISSUER = partnerIssuer; // the second realm of the provider chain sample
  process.env.IDENTITY_DEMO_ORDERS_URL = `${base}/api/orders`; // the http request nodes calling the protected API
  process.env.IDENTITY_DEMO_CALLBACK_URL = callback; // the authorization-code login's redirect URI
  process.env.IDENTITY_DEMO_BASE_URL = base; // validate-token's public URL, which DPoP proofs name in htu

  const { createDemoProvider, DEMO_PARTNER_USERS, ENCRYPTED_AUDIENCE, generateTokenEncryptionKey } = await import('./provider.mjs');
  const tokenEncryptionKey = await keptKey(path.join(userDir, 'demo-token-encryption-key.json'), generateTokenEncryptionKey);
  // The handler serves the provider and its login page; it must be mounted through express, which
  // sets req.originalUrl, so that oidc-provider knows its /realms/demo prefix.
  const { handler } = await createDemoProvider({
    issuer, clientSecret, redirectUris: [callback], accessTokenTtlSec: ACCESS_TOKEN_TTL_SEC, tokenEncryptionKey,
  });
  app.use('/realms/demo', handler);
  const partners = await createDemoProvider({
    issuer: partnerIssuer, clientSecret, redirectUris: [callback], accessTokenTtlSec: ACCESS_TOKEN_TTL_SEC, users: DEMO_PARTNER_USERS,
  });
  app.use('/realms/partners', partners.handler);

  const sampleFlows = readSampleFlows();
  const firstStart = !fs.existsSync(path.join(userDir, 'flows.json'));
  RED.init(server, {
    userDir,
    flowFile: 'flows.json',
    // Encrypts flows_cred.json; a demo value, since the only secret in it is the documented demo one.
    credentialSecret: 'node-red-contrib-identity-demo',
    httpAdminRoot: '/',
    httpNodeRoot: '/',
    uiHost: HOST,
    // The demo stays on loopback: no telemetry (and so no consent dialog), no palette catalogue fetch.
    editorTheme: { tours: false, palette: { catalogues: [] } },
    telemetry: { enabled: false, updateNotification: false },
    logging: { console: { level: process.env.NODE_RED_LOG_LEVEL || 'info', metrics: false, audit: false } },
  });
  app.use('/', RED.httpAdmin);
  app.use('/', RED.httpNode);
  // RED.start() resolves before the flows (and their credentials) are loaded; a deploy made before
  // that load ends would have its credentials overwritten by it. Wait for the first start.
  const flowsLoaded = new Promise((resolve) => RED.events.once('flows:started', resolve));
  await RED.start();
  await flowsLoaded;
  if (firstStart) await deploySampleFlows(sampleFlows, clientSecret, { [ENCRYPTED_AUDIENCE]: JSON.stringify(tokenEncryptionKey) });
  else noteMissingSamples(sampleFlows, userDir);

  console.log(`\nNode-RED editor and flows: ${base}/`);
  console.log(`Demo identity provider:     ${issuer} (client demo-client, users alice and bob)`);
  console.log(`Protected endpoint:         ${base}/api/orders`);
  console.log(`Opaque tokens (introspect): ${base}/api/opaque/orders  (token for resource urn:node-red-contrib-identity:opaque-api)`);
  console.log(`DPoP-bound tokens:          ${base}/api/dpop/orders  (a token bound to the client's key, and a proof per request)`);
  console.log(`Encrypted tokens (JWE):     ${base}/api/encrypted/orders  (token for resource ${ENCRYPTED_AUDIENCE})`);
  console.log(`Token endpoint:             POST ${base}/token  {"username","password"}`);
  console.log(`Refresh endpoint:           POST ${base}/refresh  {"refresh_token"}`);
  console.log(`Machine to machine:         GET  ${base}/m2m/orders`);
  console.log(`Session:                    POST ${base}/session/login, then GET ${base}/session/orders`);
  console.log(`Login (authorization code): ${base}/login in a browser`);
  console.log(`Step-up, resource metadata: GET  ${base}/api/reports  (RFC 9470), ${base}/.well-known/oauth-protected-resource (RFC 9728)`);
  console.log(`Provider chain:             POST ${base}/chain/token (alice at ${issuer}, carol at ${partnerIssuer})\n`);

  const stop = async () => {
    await RED.stop();
    server.closeAllConnections();
    server.close(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

/** userDir/node_modules/node-red-contrib-identity -> this checkout, so Node-RED finds it as a module. */
function linkPackage(userDir) {
  const modules = path.join(userDir, 'node_modules');
  const link = path.join(modules, 'node-red-contrib-identity');
  fs.mkdirSync(modules, { recursive: true });
  try {
    if (fs.realpathSync(link) === fs.realpathSync(ROOT)) return;
    fs.rmSync(link, { recursive: true, force: true });
  } catch {
    // no link yet
  }
  fs.symlinkSync(ROOT, link, 'dir');
}

/** The key pair kept in `file` (a private JWK), made by `generate` when there is none yet; only the owner may read it. */
async function keptKey(file, generate) {
  if (fs.existsSync(file)) return JSON.parse(fs.readFileSync(file, 'utf8'));
  const key = await generate();
  fs.writeFileSync(file, JSON.stringify(key), { mode: 0o600 });
  return key;
}

/** Every flows/*.json, protected-api first: one array of nodes, whose ids must not collide. */
function readSampleFlows() {
  const files = fs.readdirSync(FLOWS_DIR).filter((file) => file.endsWith('.json'))
    .sort((a, b) => (a === FIRST_FLOW ? -1 : b === FIRST_FLOW ? 1 : a.localeCompare(b)));
  const flows = files.flatMap((file) => JSON.parse(fs.readFileSync(path.join(FLOWS_DIR, file), 'utf8')));
  const ids = new Set();
  for (const node of flows) {
    if (typeof node.id !== 'string' || !node.id || ids.has(node.id)) {
      throw new Error(`a sample flow node has a missing or shared id (${node.id}): each id must be unique`);
    }
    ids.add(node.id);
  }
  return flows;
}

/** A user directory from an earlier start keeps its flows; say how to get sample flows added since. */
function noteMissingSamples(flows, userDir) {
  let deployed;
  try {
    deployed = new Set(JSON.parse(fs.readFileSync(path.join(userDir, 'flows.json'), 'utf8')).map((node) => node.id));
  } catch {
    return;
  }
  const missing = flows.filter((node) => node.type === 'tab' && !deployed.has(node.id)).map((node) => node.label);
  if (missing.length) {
    console.log(`\nNot deployed here (added since the first start): ${missing.join(', ')}. `
      + `Import them from Import ▸ Examples ▸ node-red-contrib-identity, or delete ${userDir} to start over.`);
  }
}

/** `decryptionKeys`: audience -> the decryptionKey credential of the identity-config for that audience. */
async function deploySampleFlows(flows, clientSecret, decryptionKeys) {
  for (const node of flows) {
    if (node.type !== 'identity-config') continue;
    node.credentials = { clientSecret };
    if (Object.hasOwn(decryptionKeys, node.audience)) node.credentials.decryptionKey = decryptionKeys[node.audience];
  }
  const started = new Promise((resolve) => {
    const onStarted = (event) => {
      if (!event?.config?.flows?.some((node) => node.id === flows[0].id)) return; // an earlier (empty) start
      RED.events.removeListener('flows:started', onStarted);
      resolve();
    };
    RED.events.on('flows:started', onStarted);
  });
  await RED.runtime.flows.setFlows({ flows: { flows } });
  await started;
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
