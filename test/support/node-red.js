'use strict';
/**
 * Node-RED in the test: node-red-node-test-helper with the core http in / http response / change
 * nodes and ours, real HTTP to the flow's routes on 127.0.0.1, and the demo provider (oidc-provider)
 * on an ephemeral loopback port.
 */
const http = require('node:http');
const path = require('node:path');
const helper = require('node-red-node-test-helper');


// NODE_RED_PATH runs the node tests against another Node-RED install (the Node-RED 5 compatibility run).
const nodeRedMain = require.resolve(process.env.NODE_RED_PATH || 'node-red');
const fromNodeRed = (request) => require(require.resolve(request, { paths: [path.dirname(nodeRedMain)] }));
helper.init(nodeRedMain);
const { i18n } = fromNodeRed('@node-red/util');

const httpInNodes = fromNodeRed('@node-red/nodes/core/network/21-httpin.js');
const changeNode = fromNodeRed('@node-red/nodes/core/function/15-change.js');
const httpRequestNode = fromNodeRed('@node-red/nodes/core/network/21-httprequest.js');
const tlsConfigNode = fromNodeRed('@node-red/nodes/core/network/05-tls.js');
const identityConfig = require('../../dist/identity-config.js');
const validateToken = require('../../dist/validate-token.js');
const getToken = require('../../dist/get-token.js');
const refreshToken = require('../../dist/refresh-token.js');

let nodeApp;
let bridgedApp;
/** A module that only captures the express app the helper gives http in nodes for this load. */
const captureHttpNode = (RED) => {
  nodeApp = RED.httpNode;
};

/**
 * The helper's RED._ returns the key as it is; give our nodes the real catalogs instead, so tests
 * see the texts a user sees (and a missing key shows up as the bare key).
 */
const MODULE = 'node-red-contrib-identity';
const withCatalog = (register, name) => (RED) => register(Object.assign(Object.create(RED), {
  _: (key, substitutions) => i18n._(key.includes(':') ? key : `${MODULE}/${name}:${key}`, substitutions),
}));
const OUR_NODES = { 'identity-config': identityConfig, 'validate-token': validateToken, 'get-token': getToken, 'refresh-token': refreshToken };
const NODES = [captureHttpNode, httpInNodes, changeNode, httpRequestNode, tlsConfigNode, ...Object.entries(OUR_NODES).map(([name, register]) => withCatalog(register, name))];

async function registerCatalogs() {
  const locales = path.resolve(__dirname, '../../dist/locales');
  for (const name of Object.keys(OUR_NODES)) {
    await i18n.registerMessageCatalog(`${MODULE}/${name}`, locales, `${name}.json`);
  }
}

async function startNodeRed() {
  await helper.startServer();
  await registerCatalogs();
  if (bridgedApp !== helper._app) {
    // The helper serves http in routes on a fresh app per load; route its server's requests there.
    helper._app.use((req, res, next) => nodeApp(req, res, next));
    bridgedApp = helper._app;
  }
}

function loadFlow(flow, credentials = {}) {
  return helper.load(NODES, flow, credentials);
}

/** Sends a real HTTP request; `headers` may be an array of [name, value] pairs to repeat a header. */
function request(path, { method = 'GET', headers = {}, body } = {}) {
  const url = new URL(path, helper.url());
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method }, (res) => {
      const chunks = [];
      res.on('data', (chunk) => chunks.push(chunk));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode, headers: res.headers, text, body: json });
      });
    });
    req.on('error', reject);
    const pairs = Array.isArray(headers) ? headers : Object.entries(headers);
    const grouped = new Map();
    for (const [name, value] of pairs) grouped.set(name, [...(grouped.get(name) ?? []), value]);
    for (const [name, values] of grouped) req.setHeader(name, values.length === 1 ? values[0] : values);
    req.end(body);
  });
}

/** Every status a node has shown so far, oldest first. */
function statusesOf(node) {
  return helper._NodePrototype.status.getCalls().filter((call) => call.thisValue === node).map((call) => call.args[0]);
}

/** Resolves with the first status (shown already or later) that matches. */
function waitForStatus(node, predicate) {
  const seen = statusesOf(node).find(predicate);
  if (seen) return Promise.resolve(seen);
  return new Promise((resolve) => {
    const listener = (call) => {
      if (predicate(call.args[0])) {
        node.removeListener('call:status', listener);
        resolve(call.args[0]);
      }
    };
    node.on('call:status', listener);
  });
}

/** Log entries at a level (helper.log() spies on RED.log.log). */
function logged(level) {
  const spy = helper.log();
  return spy.args.map((args) => args[0]).filter((entry) => entry.level === spy[level]);
}

/** The catalog text of one of our keys, as the nodes see it. */
function text(name, key, substitutions) {
  return i18n._(`${MODULE}/${name}:${key}`, substitutions);
}

module.exports = { text, helper, startNodeRed, loadFlow, request, statusesOf, waitForStatus, logged };
