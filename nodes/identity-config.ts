/**
 * identity-config: one identity provider (issuer, audience, client), shared by every node that
 * points at it. It validates its options at deploy time and owns the core `Identity`: discovery,
 * keys, introspection and their caches live here and die with it.
 */
import { Agent as HttpsAgent } from 'node:https';
import { Identity } from './core/identity';
import { createHttpClient } from './core/http';
import { inspectProvider } from './core/provider-report';
import { ConfigurationError, IdentityError, isIdentityError } from './core/errors';
import { describeError } from './shared/glue';
import { registerDoctorEndpoint } from './shared/doctor-endpoint';
import { registerSecurityCheck } from './shared/security-check';
import type { IdentityConfigNode } from './shared/config-node';
import type { NodeAPI, NodeDefinition } from './shared/red';

interface IdentityConfigDefinition extends NodeDefinition {
  issuer: string;
  /** With {tenantid} in the issuer: the tenant ids accepted, space-separated. */
  tenants?: string;
  clientId?: string;
  audience?: string;
  rfc9068?: boolean;
  scopeClaims?: string;
  roleClaims?: string;
  realm?: string;
  jwksUri?: string;
  algorithms?: string;
  clockToleranceSec?: number | string;
  timeoutMs?: number | string;
  allowInsecureHttp?: boolean;
  backoffMinMs?: number | string;
  tokenCacheEntries?: number | string;
  authMethod?: string;
  tokenEndpoint?: string;
  authorizationEndpoint?: string;
  keyId?: string;
  validation?: string;
  introspectionEndpoint?: string;
  introspectionCacheSec?: number | string;
  /** A Node-RED tls-config node: custom CA, client certificate (mTLS), server certificate checks. */
  tls?: string;
  /** Encrypted access tokens (with the decryptionKey credential): the accepted alg and enc values, space-separated. */
  jweAlgorithms?: string;
  jweEncryptions?: string;
}

/** The part of Node-RED's tls-config node that we use: it fills Node's TLS options. */
interface TlsConfigNode {
  addTLSOptions(options: Record<string, unknown>): Record<string, unknown>;
}

/** The options the token doctor may take from the deployed node (never a credential). */
const DOCTOR_OPTIONS = ['issuer', 'tenants', 'clientId', 'audience', 'scopeClaims', 'roleClaims', 'jwksUri', 'algorithms',
  'clockToleranceSec', 'timeoutMs', 'authMethod', 'tokenEndpoint', 'authorizationEndpoint', 'keyId', 'tls', 'allowInsecureHttp'];

export = function register(RED: NodeAPI): void {
  const discoveryHttp = createHttpClient();
  registerSecurityCheck(RED); // audits every deployed flow, whether or not it uses this node

  function IdentityConfig(this: IdentityConfigNode, definition: IdentityConfigDefinition): void {
    RED.nodes.createNode(this, definition);
    const credentials = this.credentials ?? {};
    // What Node-RED resolved ${VAR} properties to: the token doctor may use these, never other variables.
    const options = definition as unknown as Record<string, unknown>;
    this.deployedOptions = Object.freeze(Object.fromEntries(DOCTOR_OPTIONS.map((name) => [name, options[name]])));
    try {
      this.identity = new Identity({
        issuer: definition.issuer,
        tenants: definition.tenants,
        clientId: definition.clientId,
        audience: definition.audience,
        rfc9068: definition.rfc9068 === true,
        scopeClaims: definition.scopeClaims,
        roleClaims: definition.roleClaims,
        realm: definition.realm,
        jwksUri: definition.jwksUri,
        algorithms: definition.algorithms,
        clockToleranceSec: definition.clockToleranceSec,
        timeoutMs: definition.timeoutMs,
        allowInsecureHttp: definition.allowInsecureHttp === true,
        backoffMinMs: definition.backoffMinMs,
        tokenCacheEntries: definition.tokenCacheEntries,
        authMethod: definition.authMethod,
        clientSecret: credentials.clientSecret,
        privateKey: credentials.privateKey,
        certificate: credentials.certificate,
        keyId: definition.keyId,
        tokenEndpoint: definition.tokenEndpoint,
        authorizationEndpoint: definition.authorizationEndpoint,
        validation: definition.validation,
        introspectionEndpoint: definition.introspectionEndpoint,
        introspectionCacheSec: definition.introspectionCacheSec,
        httpsAgent: tlsAgent(definition.tls),
        decryptionKey: credentials.decryptionKey,
        jweAlgorithms: definition.jweAlgorithms,
        jweEncryptions: definition.jweEncryptions,
      });
    } catch (error) {
      this.configError = isIdentityError(error) ? error : new IdentityError('ERR_CONFIG_INVALID', String(error));
      this.error(describeError(RED, this.configError));
    }
    const identity = this.identity;
    let closed = false;
    if (identity) {
      this.ready = identity.warmUp();
      this.ready.catch((error: unknown) => {
        if (closed) return;
        const reason = describeError(RED, error);
        this.warn(identity.settings.validation === 'introspection'
          ? RED._('identity-config.warnings.introspectionEndpointUnknown', { reason })
          : RED._('identity-config.warnings.warmUpFailed', { reason }));
      });
    }
    this.on('close', (_removed, done) => {
      closed = true; // a warm-up cut short by a redeploy is not worth a warning
      identity?.close();
      done();
    });
  }

  /** An https agent with the tls-config node's options, or undefined when none is selected. */
  function tlsAgent(id: string | undefined): HttpsAgent | undefined {
    if (!id) return undefined;
    const tls = RED.nodes.getNode(id) as unknown as TlsConfigNode | null;
    if (!tls || typeof tls.addTLSOptions !== 'function') {
      throw new ConfigurationError('ERR_CONFIG_TLS_MISSING', 'tls', 'the selected tls-config node does not exist');
    }
    return new HttpsAgent(tls.addTLSOptions({ keepAlive: true }));
  }

  // The editor's Discover button: metadata and key set of the issuer being configured (or
  // `{ problem: { code, cause, message } }`), for users
  // who may edit flows. Only the issuer's well-known metadata and its jwks_uri are read, with the
  // same URL rules, timeout and size limit as validation: it is no proxy to arbitrary URLs.
  RED.httpAdmin.get('/identity-config/discover', RED.auth.needsPermission('identity-config.write'), (req, res) => {
    const issuer = typeof req.query.issuer === 'string' ? req.query.issuer : '';
    const allowInsecureHttp = req.query.allowInsecureHttp === 'true';
    const tenants = typeof req.query.tenants === 'string' ? req.query.tenants.split(/\s+/).filter(Boolean) : [];
    inspectProvider(discoveryHttp, issuer, allowInsecureHttp, tenants).then((report) => res.json(report), (error: unknown) => {
      const known = isIdentityError(error) ? error : new IdentityError('ERR_INTERNAL', 'unexpected failure');
      const cause = (known.cause as { code?: unknown } | undefined)?.code;
      // The request to us succeeded; what failed is the discovery, which the answer describes.
      res.json({ problem: { code: known.code, cause: typeof cause === 'string' ? cause : undefined, message: describeError(RED, known) } });
    });
  });

  // The editor's Token doctor (POST /identity-config/doctor): why a token is refused, see doctor-endpoint.ts.
  registerDoctorEndpoint(RED);

  RED.nodes.registerType('identity-config', IdentityConfig, {
    credentials: {
      clientSecret: { type: 'password' },
      privateKey: { type: 'password' },
      certificate: { type: 'text' },
      decryptionKey: { type: 'password' },
    },
  });
};
