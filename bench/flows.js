'use strict';
/**
 * The flows the bench deploys into Node-RED (bench/node-red.js). Every route is
 * `http in` → [our node →] `http response`, both outputs of our node wired to the response, and
 * answers `{}` (or a token response), so that the routes differ only by the node under test.
 * The client secret reaches each identity-config as a Node-RED credential.
 */
const AUDIENCE = 'urn:node-red-contrib-identity:demo-api';
/** The demo provider's second API, whose tokens are opaque (flows/demo/provider.mjs). */
const OPAQUE_AUDIENCE = 'urn:node-red-contrib-identity:opaque-api';
const SCOPE = 'orders:read';
const at = { x: 100, y: 100 };

function identityConfig(id, issuer, clientSecret, extra = {}) {
  return {
    id,
    type: 'identity-config',
    // Not the id: Node-RED takes a property equal to a config node's id as a reference to it.
    name: `bench ${id.replace(/^idp-/, '')}`,
    issuer,
    clientId: 'demo-client',
    audience: AUDIENCE,
    rfc9068: true,
    realm: 'bench',
    algorithms: '',
    clockToleranceSec: '30',
    timeoutMs: '5000',
    allowInsecureHttp: false,
    backoffMinMs: '1000',
    credentials: { clientSecret },
    ...extra,
  };
}

/** GET `url` → `node` (if any) → http response. */
function route(tab, url, node) {
  const id = `${tab}${url}`;
  const response = { id: `${id}:out`, type: 'http response', z: tab, statusCode: '', headers: {}, ...at, wires: [] };
  const first = node ? `${id}:node` : response.id;
  const nodes = [{ id: `${id}:in`, type: 'http in', z: tab, url, method: 'get', upload: false, swaggerDoc: '', ...at, wires: [[first]] }];
  if (node) nodes.push({ ...node, id: `${id}:node`, z: tab, ...at, wires: [[response.id], [response.id]] });
  nodes.push(response);
  return nodes;
}

const validateToken = (identity) => ({ type: 'validate-token', identity, scope: SCOPE, roles: '' });
const getToken = (identity, cache) => ({
  type: 'get-token', identity, grantType: 'client_credentials', scope: SCOPE, params: '{}', paramsType: 'json', authHeader: false, cache, redirectUri: '',
});

/** /bare, /cached, /uncached (tokenCacheEntries 0), /cc-cached and /cc-provider. */
function mainFlows(issuer, clientSecret) {
  const tab = 'bench-main';
  return [
    { id: tab, type: 'tab', label: 'bench' },
    identityConfig('idp-cached', issuer, clientSecret),
    identityConfig('idp-uncached', issuer, clientSecret, { tokenCacheEntries: '0' }),
    identityConfig('idp-cc', issuer, clientSecret),
    ...route(tab, '/bare'),
    ...route(tab, '/cached', validateToken('idp-cached')),
    ...route(tab, '/uncached', validateToken('idp-uncached')),
    ...route(tab, '/cc-cached', getToken('idp-cc', true)),
    ...route(tab, '/cc-provider', getToken('idp-cc', false)),
  ];
}

/** Only /cold, behind a new identity-config (`round` makes every id new): nothing is cached yet. */
function coldValidateFlows(issuer, clientSecret, round) {
  const tab = `bench-cold-${round}`;
  return [
    { id: tab, type: 'tab', label: 'bench cold start' },
    identityConfig(`idp-cold-${round}`, issuer, clientSecret),
    ...route(tab, '/cold', validateToken(`idp-cold-${round}`)),
  ];
}

/** Only /cc-cold, get-token with its cache, behind a new identity-config: no token cached yet. */
function coldTokenFlows(issuer, clientSecret, round) {
  const tab = `bench-cc-cold-${round}`;
  return [
    { id: tab, type: 'tab', label: 'bench client credentials' },
    identityConfig(`idp-cc-cold-${round}`, issuer, clientSecret),
    ...route(tab, '/cc-cold', getToken(`idp-cc-cold-${round}`, true)),
  ];
}

/** Only /introspect: validate-token behind a new identity-config in introspection mode (nothing cached yet). */
function introspectionFlows(issuer, clientSecret, round) {
  const tab = `bench-introspection-${round}`;
  return [
    { id: tab, type: 'tab', label: 'bench introspection' },
    identityConfig(`idp-introspection-${round}`, issuer, clientSecret, { audience: OPAQUE_AUDIENCE, rfc9068: false, validation: 'introspection' }),
    ...route(tab, '/introspect', validateToken(`idp-introspection-${round}`)),
  ];
}

module.exports = { AUDIENCE, OPAQUE_AUDIENCE, SCOPE, mainFlows, coldValidateFlows, coldTokenFlows, introspectionFlows };
