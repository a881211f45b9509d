'use strict';
/** RFC 9728 §2: the protected resource metadata document, built and checked at deploy time. */
const assert = require('node:assert/strict');
const { protectedResourceMetadata, metadataUrl, RESOURCE_METADATA_MAX_AGE_SEC } = require('../../dist/core/resource-metadata');
const { throwsWithCode } = require('../support/assert');

const ISSUER = 'https://idp.example.com/realms/demo';

describe('core: protected resource metadata (RFC 9728)', () => {
  it('states the resource, its authorization servers and the header as the one way to send a token', () => {
    assert.deepEqual(protectedResourceMetadata({ resource: 'https://api.example.com', authorizationServers: [ISSUER] }), {
      resource: 'https://api.example.com',
      authorization_servers: [ISSUER],
      bearer_methods_supported: ['header'],
    });
  });

  it('adds scopes_supported, resource_name and resource_documentation when they are set', () => {
    const document = protectedResourceMetadata({
      resource: ' https://api.example.com/orders ',
      authorizationServers: [ISSUER, 'https://partners.example.com', ISSUER],
      scopes: 'orders:read  orders:write',
      resourceName: ' Orders API ',
      documentation: 'https://docs.example.com/orders',
    });
    assert.deepEqual(document, {
      resource: 'https://api.example.com/orders',
      authorization_servers: [ISSUER, 'https://partners.example.com'],
      bearer_methods_supported: ['header'],
      scopes_supported: ['orders:read', 'orders:write'],
      resource_name: 'Orders API',
      resource_documentation: 'https://docs.example.com/orders',
    });
  });

  it('keeps the resource identifier exactly as written: clients compare it character by character (§3.3)', () => {
    assert.equal(protectedResourceMetadata({ resource: 'https://API.example.com', authorizationServers: [] }).resource, 'https://API.example.com');
  });

  it('accepts plain http only on a loopback host, as identity-config does for providers', () => {
    assert.equal(protectedResourceMetadata({ resource: 'http://127.0.0.1:1880', authorizationServers: [] }).resource, 'http://127.0.0.1:1880');
    const error = throwsWithCode(() => protectedResourceMetadata({ resource: 'http://api.example.com', authorizationServers: [] }), 'ERR_CONFIG_INSECURE_HTTP');
    assert.equal(error.option, 'resource');
    assert.equal(throwsWithCode(() => protectedResourceMetadata({ resource: 'https://a.example', authorizationServers: [], documentation: 'http://docs.example.com' }),
      'ERR_CONFIG_INSECURE_HTTP').option, 'documentation');
  });

  it('refuses a missing resource, a fragment, a non-URL, spaces, non-ASCII and options of the wrong type', () => {
    const refused = (options, option) => {
      const error = throwsWithCode(() => protectedResourceMetadata({ authorizationServers: [ISSUER], ...options }), 'ERR_CONFIG_INVALID');
      assert.equal(error.option, option, JSON.stringify(options));
    };
    refused({ resource: '' }, 'resource');
    refused({ resource: undefined }, 'resource');
    refused({ resource: 'https://api.example.com/#top' }, 'resource');
    refused({ resource: 'https://api.example.com#' }, 'resource');
    refused({ resource: 'api.example.com' }, 'resource');
    refused({ resource: 'ftp://api.example.com' }, 'resource');
    refused({ resource: 'https://user:pw@api.example.com' }, 'resource');
    refused({ resource: 'https://api.example.com/a b' }, 'resource');
    refused({ resource: 'https://api.exämple.com' }, 'resource');
    refused({ resource: 42 }, 'resource');
    refused({ resource: 'https://a.example', scopes: 'orders:"read"' }, 'scopes');
    refused({ resource: 'https://a.example', scopes: ['orders:read'] }, 'scopes');
    refused({ resource: 'https://a.example', resourceName: 'x'.repeat(201) }, 'resourceName');
    refused({ resource: 'https://a.example', documentation: 'docs' }, 'documentation');
  });

  it('metadataUrl: blank is unset; a URL is kept as written', () => {
    assert.equal(metadataUrl('  ', 'resourceMetadata'), undefined);
    assert.equal(metadataUrl(undefined, 'resourceMetadata'), undefined);
    assert.equal(metadataUrl(' https://api.example.com/.well-known/oauth-protected-resource ', 'resourceMetadata'),
      'https://api.example.com/.well-known/oauth-protected-resource');
    assert.equal(throwsWithCode(() => metadataUrl('/.well-known/oauth-protected-resource', 'resourceMetadata'), 'ERR_CONFIG_INVALID').option,
      'resourceMetadata');
  });

  it('may be cached for an hour, as identity-config keeps the provider metadata', () => {
    assert.equal(RESOURCE_METADATA_MAX_AGE_SEC, 3600);
  });
});
