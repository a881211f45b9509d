/**
 * One identity provider as the resource server sees it: validated options, the HTTP client,
 * discovery, the key store, the verifier and the introspector, built once (at deploy time) and
 * shared by every node that uses the same identity-config.
 *
 * `authenticate` is the whole request path of RFC 6750: read the bearer token, verify it (locally
 * as a JWT, or by asking the provider, RFC 7662, as `validation` says), map the claims, apply the
 * route's rules. Every failure is an `IdentityError` whose code decides the HTTP answer (see
 * `challenge.ts`).
 */
import type { Agent as HttpsAgent } from 'node:https';
import type { JWTPayload } from 'jose';
import { extractAccessToken, BEARER_DEFAULTS, type AuthScheme, type CredentialSource, type PresentedToken } from './bearer';
import { checkAccess, toAuthInfo, words, type AccessRules, type AuthInfo, type Confirmation } from './claims';
import { loadClientKey, type ClientKey } from './client-key';
import { DecisionTrace, INTROSPECTION_CHECKS, JWE_CHECKS, JWT_CHECKS, type Check } from './decision';
import { fetchMetadata, type ProviderMetadata } from './discovery';
import { issuerSet } from './issuers';
import { ConfigurationError, IdentityError, isIdentityError } from './errors';
import { createHttpClient, HTTP_DEFAULTS, type HttpClient } from './http';
import { INTROSPECTION_DEFAULTS, Introspector } from './introspection';
import { JWE_CONTENT_ENCRYPTIONS, JWE_DEFAULTS, JWE_KEY_ALGORITHMS, JweDecrypter, loadDecryptionKeys } from './jwe';
import { ASYMMETRIC_ALGORITHMS, KEY_DEFAULTS, KeyStore } from './keys';
import { RefreshingValue } from './refreshing-value';
import { assertSecureUrl, parseProviderUrl } from './urls';
import { CLIENT_AUTH_METHODS, TokenClient, type ClientAuthentication, type ClientAuthMethod } from './token-client';
import { TokenService } from './tokens';
import { TokenVerifier, looksEncrypted } from './verifier';
import { VerifiedTokenCache, type KeyReference } from './verified-token-cache';

export interface IdentityOptions {
  /** The issuer identifier, exactly as the provider states it (required); may hold `{tenantid}` once. */
  issuer: string;
  /** With `{tenantid}` in the issuer: the tenants accepted, space-separated or as a list (required then). */
  tenants?: string | readonly string[];
  /** Accepted audiences, space-separated or as a list; a token must carry one. Required to validate. */
  audience?: string | readonly string[];
  /** The client id; its Keycloak `resource_access` roles count as roles. */
  clientId?: string;
  /** RFC 9068 strict mode. Default false. */
  rfc9068?: boolean;
  /** Claim paths read for scopes, space-separated or as a list (see `ClaimMapping`). Default: every known one. */
  scopeClaims?: string | readonly string[];
  /** Claim paths read for roles, space-separated or as a list. Default: every known one. */
  roleClaims?: string | readonly string[];
  /** The `realm` of challenges. Default "node-red". */
  realm?: string;
  /** Key set URL used instead of the discovered `jwks_uri`. */
  jwksUri?: string;
  /** Accepted JWS algorithms, space-separated or as a list. Default: every asymmetric one. */
  algorithms?: string | readonly string[];
  /** Leeway for `exp`/`nbf`, in seconds. Default 30. */
  clockToleranceSec?: number | string;
  /** Deadline of each call to the provider, in ms. Default 5000. */
  timeoutMs?: number | string;
  /** Largest provider response, in bytes. Default 1 MiB. */
  maxResponseBytes?: number | string;
  /** Longest access token, in characters. Default 16384. */
  maxTokenLength?: number | string;
  /** Allow plain http to a non-loopback provider. Default false. */
  allowInsecureHttp?: boolean;
  /** First wait after a failed provider call, in ms; doubles up to `backoffMaxMs`. Default 1000. */
  backoffMinMs?: number | string;
  /** Longest wait between failed provider calls, in ms. Default 60000. */
  backoffMaxMs?: number | string;
  /** Least time between refetches of the key set for an unknown `kid`, in ms. Default 30000. */
  keysCooldownMs?: number | string;
  /** Verified tokens kept, so their next requests skip the signature; 0 turns it off. Default 10000. */
  tokenCacheEntries?: number | string;
  /** Bytes the verified-token cache may hold. Default 32 MiB. */
  tokenCacheMaxBytes?: number | string;
  /** TLS settings for https providers. */
  httpsAgent?: HttpsAgent;
  /** How the client authenticates at the token endpoint. Default client_secret_basic. */
  authMethod?: ClientAuthMethod | string;
  /** The client secret (client_secret_basic and client_secret_post). */
  clientSecret?: string;
  /** For private_key_jwt: a PEM private key or a private JWK as JSON. */
  privateKey?: string;
  /** For private_key_jwt: the PEM certificate of that key, for the `x5t#S256` header. */
  certificate?: string;
  /** For private_key_jwt: the `kid` of client assertions. */
  keyId?: string;
  /** Token endpoint used instead of the discovered `token_endpoint`. */
  tokenEndpoint?: string;
  /** Authorization endpoint used instead of the discovered `authorization_endpoint`. */
  authorizationEndpoint?: string;
  /**
   * How access tokens are validated: `jwt` verifies them locally; `introspection` asks the
   * provider about every token (RFC 7662), so revocation is seen; `auto` verifies what looks like
   * a JWS locally and introspects anything else (opaque tokens). Default `jwt`.
   */
  validation?: ValidationMode | string;
  /** Introspection endpoint used instead of the discovered `introspection_endpoint`. */
  introspectionEndpoint?: string;
  /** Longest an introspection answer is kept, in seconds; 0 turns that cache off. Default 60. */
  introspectionCacheSec?: number | string;
  /**
   * Opens encrypted access tokens (nested JWTs): a PEM private key, a private JWK, or a JWK Set as
   * JSON. Without it a JWE is refused (ERR_TOKEN_ENCRYPTED).
   */
  decryptionKey?: string;
  /** Accepted JWE key management algorithms (`alg`), space-separated or as a list. Default `JWE_DEFAULTS.algorithms`. */
  jweAlgorithms?: string | readonly string[];
  /** Accepted JWE content encryption algorithms (`enc`), space-separated or as a list. Default `JWE_DEFAULTS.encryptions`. */
  jweEncryptions?: string | readonly string[];
  /** Clock in ms since the epoch (tests give a fixed one). Default Date.now. */
  now?: () => number;
  /** HTTP client (tests may give one that fails on demand). */
  http?: HttpClient;
}

/** A check that binds a verified token to what the request presents (RFC 9449 DPoP, RFC 8705 mTLS). */
export interface SenderConstraint {
  /** What the token proved to be bound to, or undefined when nothing was checked; throws an `AccessDeniedError`. */
  confirm(request: CredentialSource, claims: JWTPayload, presented: PresentedToken): Confirmation | undefined | Promise<Confirmation | undefined>;
}

/** What a route accepts beyond RFC 6750: the Authorization schemes (default Bearer), and the sender constraints it checks. */
export interface TokenBinding {
  schemes?: readonly AuthScheme[];
  constraints?: readonly SenderConstraint[];
}

export const VALIDATION_MODES = ['jwt', 'introspection', 'auto'] as const;
export type ValidationMode = (typeof VALIDATION_MODES)[number];

export const IDENTITY_DEFAULTS = Object.freeze({
  realm: 'node-red',
  clockToleranceSec: 30,
  backoffMinMs: 1000,
  backoffMaxMs: 60_000,
  discoveryMaxAgeMs: 60 * 60_000,
  tokenCacheEntries: 10_000,
  tokenCacheMaxBytes: 32 * 1024 * 1024,
});

/** The options after validation, with every default applied. */
export interface IdentitySettings {
  issuer: string;
  /** The `iss` values accepted: the issuer, or one per tenant of an issuer template. */
  issuers: readonly string[];
  /** The issuer whose metadata is read (the first tenant's, for a template). */
  discoveredIssuer: string;
  audiences: readonly string[];
  clientId: string | undefined;
  rfc9068: boolean;
  scopeClaims: readonly string[];
  roleClaims: readonly string[];
  realm: string;
  jwksUri: string | undefined;
  algorithms: readonly string[];
  clockToleranceSec: number;
  timeoutMs: number;
  maxResponseBytes: number;
  maxTokenLength: number;
  allowInsecureHttp: boolean;
  backoffMinMs: number;
  backoffMaxMs: number;
  keysCooldownMs: number;
  tokenCacheEntries: number;
  tokenCacheMaxBytes: number;
  authMethod: ClientAuthMethod;
  tokenEndpoint: string | undefined;
  authorizationEndpoint: string | undefined;
  validation: ValidationMode;
  introspectionEndpoint: string | undefined;
  introspectionCacheSec: number;
  jweAlgorithms: readonly string[];
  jweEncryptions: readonly string[];
}

export class Identity {
  readonly settings: IdentitySettings;
  private readonly metadataValue: RefreshingValue<ProviderMetadata>;
  private readonly keys: KeyStore;
  private readonly verifier: TokenVerifier;
  private readonly verified: VerifiedTokenCache;
  private readonly tokenService: TokenService | undefined;
  private readonly tokenProblem: ConfigurationError | undefined;
  private readonly introspector: Introspector<AuthInfo> | undefined;
  private readonly decrypter: JweDecrypter | undefined;

  /** Validates the options; throws a `ConfigurationError` (at deploy time) when one is wrong. */
  constructor(options: IdentityOptions) {
    const settings = validateOptions(options);
    this.settings = settings;
    const now = options.now ?? Date.now;
    const http = options.http ?? createHttpClient({
      timeoutMs: settings.timeoutMs,
      maxResponseBytes: settings.maxResponseBytes,
      httpsAgent: options.httpsAgent,
    });
    const backoff = { backoffMinMs: settings.backoffMinMs, backoffMaxMs: settings.backoffMaxMs };
    this.metadataValue = new RefreshingValue({
      load: (signal) => fetchMetadata({ http, issuer: settings.discoveredIssuer, allowInsecureHttp: settings.allowInsecureHttp, signal }),
      now,
      maxAgeMs: IDENTITY_DEFAULTS.discoveryMaxAgeMs,
      ...backoff,
    });
    this.keys = new KeyStore({
      http,
      now,
      jwksUri: () => this.jwksUri(),
      cooldownMs: settings.keysCooldownMs,
      ...backoff,
    });
    // A bad client key only keeps this identity from obtaining tokens; validation still works.
    let clientKey: ClientKey | undefined;
    let keyProblem: ConfigurationError | undefined;
    if (settings.authMethod === 'private_key_jwt' && options.privateKey?.trim()) {
      try {
        clientKey = loadClientKey(options.privateKey, options.certificate, options.keyId?.trim());
      } catch (error) {
        keyProblem = error as ConfigurationError;
      }
    }
    this.tokenProblem = keyProblem ?? tokenProblem(settings, options.clientSecret, clientKey);
    const clientAuthentication: ClientAuthentication | undefined = settings.clientId
      ? { clientId: settings.clientId, method: settings.authMethod, clientSecret: options.clientSecret, privateKey: clientKey }
      : undefined;
    if (settings.validation !== 'jwt') {
      const problem = introspectionProblem(settings, this.tokenProblem);
      if (problem) throw problem;
      this.introspector = new Introspector({
        http,
        now,
        client: clientAuthentication as ClientAuthentication,
        endpoint: () => this.endpoint('introspection_endpoint', settings.introspectionEndpoint),
        issuer: settings.issuers,
        audiences: settings.audiences,
        clockToleranceSec: settings.clockToleranceSec,
        cacheSec: settings.introspectionCacheSec,
        maxEntries: settings.tokenCacheEntries,
        toResult: (claims) => this.toAuthInfo(claims),
      });
    }
    if (!this.tokenProblem && clientAuthentication) {
      const client = new TokenClient({
        http,
        now,
        endpoint: () => this.endpoint('token_endpoint', settings.tokenEndpoint),
        client: clientAuthentication,
      });
      this.tokenService = new TokenService({
        client,
        now,
        clientId: clientAuthentication.clientId,
        issuer: settings.issuers,
        authorizationEndpoint: () => this.endpoint('authorization_endpoint', settings.authorizationEndpoint),
        issParameterSupported: async () => !settings.authorizationEndpoint
          && (await this.metadataValue.get()).authorization_response_iss_parameter_supported === true,
      });
    }
    this.decrypter = options.decryptionKey?.trim() ? new JweDecrypter({
      keys: loadDecryptionKeys(options.decryptionKey, settings.jweAlgorithms),
      algorithms: settings.jweAlgorithms,
      encryptions: settings.jweEncryptions,
    }) : undefined;
    this.verified = new VerifiedTokenCache({ maxEntries: settings.tokenCacheEntries, maxBytes: settings.tokenCacheMaxBytes, now });
    this.verifier = new TokenVerifier({
      issuer: settings.issuers,
      audiences: settings.audiences,
      algorithms: settings.algorithms,
      clockToleranceSec: settings.clockToleranceSec,
      rfc9068: settings.rfc9068,
      maxTokenLength: settings.maxTokenLength,
      keys: this.keys,
      now,
      decrypter: this.decrypter,
    });
  }

  /** The provider's metadata (discovery), cached; rejects with a provider error. */
  metadata(): Promise<ProviderMetadata> {
    return this.metadataValue.get();
  }

  /** Whether tokens naming this `iss` are this provider's to verify: exactly its issuer. */
  acceptsIssuer(issuer: string): boolean {
    return this.settings.issuers.includes(issuer);
  }

  /**
   * Fetches metadata and keys ahead of the first request; resolves the number of usable keys. With
   * `validation` `introspection` no key is needed: it resolves 0 once the introspection endpoint is known.
   */
  warmUp(): Promise<number> {
    if (this.settings.validation === 'introspection') {
      return this.endpoint('introspection_endpoint', this.settings.introspectionEndpoint).then(() => 0);
    }
    return this.keys.warmUp();
  }

  /**
   * Throws a `ConfigurationError` when these options cannot validate tokens: an access token must
   * be checked against this API's audience (RFC 9068 §4, RFC 8725 §3.9), or a token the provider
   * issued for any other API or client would be accepted. Options used only to obtain tokens may
   * leave the audience empty.
   */
  assertCanValidate(): void {
    if (this.settings.audiences.length === 0) {
      throw new ConfigurationError('ERR_CONFIG_AUDIENCE_MISSING', 'audience',
        'no audience is configured: tokens cannot be validated without the API identifier they must name in aud');
    }
  }

  /**
   * Authenticates a request and applies the route's rules.
   * @param binding the schemes and sender constraints of the route (default: Bearer, none)
   * @returns `msg.auth` for the request, with `confirmation` when a sender constraint was checked
   * @throws IdentityError (never anything else for a bad request or token)
   */
  async authenticate(request: CredentialSource, rules: AccessRules, binding: TokenBinding = {},
    trace: DecisionTrace = new DecisionTrace()): Promise<AuthInfo> {
    this.assertCanValidate();
    const presented = extractAccessToken(request, this.settings.maxTokenLength, binding.schemes);
    const { token } = presented;
    trace.pass('credentials');
    const local = JWS_SHAPE.test(token) || (this.decrypter !== undefined && looksEncrypted(token));
    const introspect = this.introspector && (this.settings.validation === 'introspection' || !local);
    const auth = introspect ? await this.introspect(token, trace) : await this.verifyLocally(token, trace);
    let confirmation: Confirmation | undefined;
    for (const constraint of binding.constraints ?? []) {
      try {
        const confirmed = await constraint.confirm(request, auth.claims, presented);
        if (confirmed) confirmation = { ...confirmation, ...confirmed };
      } catch (error) {
        if (isIdentityError(error)) trace.fail(error.code);
        throw error;
      }
    }
    if (confirmation) trace.pass('sender constraint');
    try {
      checkAccess(auth, rules);
    } catch (error) {
      if ((error as IdentityError).code === 'ERR_ROLE_INSUFFICIENT' && rules.scopes.length > 0) trace.pass('scope');
      trace.fail((error as IdentityError).code);
      throw error;
    }
    if (rules.scopes.length > 0) trace.pass('scope');
    if (rules.roles.length > 0) trace.pass('role');
    return confirmation ? { ...auth, confirmation } : { ...auth }; // the flow may add to msg.auth; what it holds stays frozen
  }

  /** A JWT's `msg.auth`, from the verified-token cache (by the token as sent, so a JWE is decrypted once) or from a full verification. */
  private async verifyLocally(token: string, trace: DecisionTrace): Promise<AuthInfo> {
    const cached = this.verified.get(token, this.settings.clockToleranceSec, this.isPublished);
    if (cached) {
      trace.checkedBy('cache');
      trace.pass('cached verification', 'lifetime');
      return cached;
    }
    trace.checkedBy('jwt');
    const checks = this.decrypter !== undefined && looksEncrypted(token) ? JWE_CHECKS : JWT_CHECKS;
    const { claims, header, keyIdentity } = await recorded(trace, checks, this.verifier.verify(token));
    return this.verified.set(token, this.toAuthInfo(claims), { identity: keyIdentity, kid: header.kid, alg: header.alg });
  }

  /** An opaque token's (or, in `introspection` mode, any token's) `msg.auth`, from the provider. */
  private introspect(token: string, trace: DecisionTrace): Promise<AuthInfo> {
    trace.checkedBy('introspection');
    return recorded(trace, INTROSPECTION_CHECKS, (this.introspector as Introspector<AuthInfo>).check(token));
  }

  /** `msg.auth` for verified claims, with this provider's way of spelling scopes and roles. */
  private toAuthInfo(claims: JWTPayload): AuthInfo {
    const { clientId, scopeClaims, roleClaims } = this.settings;
    return toAuthInfo(claims, { clientId, scopeClaims, roleClaims });
  }

  private readonly isPublished = (key: KeyReference): boolean => this.keys.isPublished(key.identity, key.kid, key.alg);

  /** How many verified tokens are cached (for the bench and the tests). */
  get cachedTokens(): number {
    return this.verified.size;
  }

  /** Throws a `ConfigurationError` when these options cannot obtain tokens (no client id, secret or key). */
  assertCanRequestTokens(): void {
    if (this.tokenProblem) throw this.tokenProblem;
  }

  /** Obtaining tokens: grants, caches, pending logins. */
  get tokens(): TokenService {
    this.assertCanRequestTokens();
    return this.tokenService as TokenService;
  }

  /** Stops in-flight provider calls and forgets cached tokens; the instance is not used afterwards. */
  close(): void {
    this.metadataValue.close();
    this.keys.close();
    this.verified.clear();
    this.introspector?.close();
    this.tokenService?.clear();
  }

  /** A configured endpoint, or the one the provider's metadata names. */
  private async endpoint(member: 'token_endpoint' | 'authorization_endpoint' | 'introspection_endpoint',
    override: string | undefined): Promise<string> {
    if (override) return override;
    const metadata = await this.metadataValue.get();
    const value = metadata[member];
    if (typeof value !== 'string') {
      throw new IdentityError('ERR_DISCOVERY_INVALID', `the provider metadata has no ${member}`);
    }
    if (member === 'introspection_endpoint') {
      // Discovery checks the URLs it knows of; the token goes to this one, so it must pass the same rule.
      assertSecureUrl(providerUrl(value, member), member, this.settings.allowInsecureHttp, false);
    }
    return value;
  }

  private async jwksUri(): Promise<string> {
    if (this.settings.jwksUri) return this.settings.jwksUri;
    const metadata = await this.metadataValue.get();
    if (typeof metadata.jwks_uri !== 'string') {
      throw new IdentityError('ERR_DISCOVERY_INVALID', 'the provider metadata has no jwks_uri');
    }
    return metadata.jwks_uri;
  }
}

/** Three base64url segments: what `auto` verifies locally (an empty signature is refused there, not sent away). */
const JWS_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** The outcome of a fixed sequence of checks in the trace: all passed, or those before the failing one. */
async function recorded<T>(trace: DecisionTrace, checks: readonly Check[], work: Promise<T>): Promise<T> {
  try {
    const result = await work;
    trace.pass(...checks);
    return result;
  } catch (error) {
    if (isIdentityError(error)) trace.failWithin(checks, error.code);
    throw error;
  }
}

/** Parses a route's rules: `scope` (all required) and `roles` (any one), space-separated. */
export function parseAccessRules(scope: unknown, roles: unknown): AccessRules {
  for (const [option, value] of [['scope', scope], ['roles', roles]] as const) {
    if (value !== undefined && value !== null && typeof value !== 'string') {
      throw new ConfigurationError('ERR_CONFIG_INVALID', option, `${option} must be a space-separated list`);
    }
  }
  return { scopes: words(scope), roles: words(roles) };
}

function validateOptions(options: IdentityOptions): IdentitySettings {
  const allowInsecureHttp = options.allowInsecureHttp === true;
  const issuer = typeof options.issuer === 'string' ? options.issuer.trim() : '';
  if (!issuer) throw new ConfigurationError('ERR_CONFIG_ISSUER_MISSING', 'issuer', 'the issuer is required');
  const { accepted: issuers, discovered: discoveredIssuer } = issuerSet(issuer, listOption(options.tenants));
  const issuerUrl = parseProviderUrl(discoveredIssuer, 'issuer', allowInsecureHttp);
  if (issuerUrl.search || issuerUrl.hash) {
    throw new ConfigurationError('ERR_CONFIG_ISSUER_INVALID', 'issuer', 'the issuer must not have a query or fragment (RFC 8414 §2)');
  }
  const jwksUri = options.jwksUri?.trim() ? parseProviderUrl(options.jwksUri.trim(), 'jwksUri', allowInsecureHttp).href : undefined;
  const algorithms = listOption(options.algorithms);
  for (const alg of algorithms) {
    if (!ASYMMETRIC_ALGORITHMS.includes(alg)) {
      throw new ConfigurationError('ERR_CONFIG_INVALID', 'algorithms',
        `algorithm "${alg}" is not accepted; choose from ${ASYMMETRIC_ALGORITHMS.join(' ')}`);
    }
  }
  const authMethod = (options.authMethod?.trim() || 'client_secret_basic') as ClientAuthMethod;
  if (!CLIENT_AUTH_METHODS.includes(authMethod)) {
    throw new ConfigurationError('ERR_CONFIG_INVALID', 'authMethod', `authMethod must be one of ${CLIENT_AUTH_METHODS.join(' ')}`);
  }
  const endpointOption = (value: string | undefined, option: string): string | undefined =>
    (value?.trim() ? parseProviderUrl(value.trim(), option, allowInsecureHttp).href : undefined);
  const backoffMinMs = numberOption(options.backoffMinMs, 'backoffMinMs', IDENTITY_DEFAULTS.backoffMinMs, 0, 3_600_000);
  const validation = (options.validation?.trim() || 'jwt') as ValidationMode;
  if (!VALIDATION_MODES.includes(validation)) {
    throw new ConfigurationError('ERR_CONFIG_INVALID', 'validation', `validation must be one of ${VALIDATION_MODES.join(' ')}`);
  }
  return {
    issuer,
    issuers,
    discoveredIssuer,
    audiences: listOption(options.audience),
    clientId: options.clientId?.trim() || undefined,
    rfc9068: options.rfc9068 === true,
    scopeClaims: claimPaths(options.scopeClaims, 'scopeClaims'),
    roleClaims: claimPaths(options.roleClaims, 'roleClaims'),
    realm: options.realm?.trim() || IDENTITY_DEFAULTS.realm,
    jwksUri,
    algorithms: algorithms.length > 0 ? algorithms : ASYMMETRIC_ALGORITHMS,
    clockToleranceSec: numberOption(options.clockToleranceSec, 'clockToleranceSec', IDENTITY_DEFAULTS.clockToleranceSec, 0, 600),
    timeoutMs: numberOption(options.timeoutMs, 'timeoutMs', HTTP_DEFAULTS.timeoutMs, 100, 120_000),
    maxResponseBytes: numberOption(options.maxResponseBytes, 'maxResponseBytes', HTTP_DEFAULTS.maxResponseBytes, 1024, 64 * 1024 * 1024),
    maxTokenLength: numberOption(options.maxTokenLength, 'maxTokenLength', BEARER_DEFAULTS.maxTokenLength, 64, 1024 * 1024),
    allowInsecureHttp,
    backoffMinMs,
    backoffMaxMs: numberOption(options.backoffMaxMs, 'backoffMaxMs', Math.max(backoffMinMs, IDENTITY_DEFAULTS.backoffMaxMs), backoffMinMs, 3_600_000),
    keysCooldownMs: numberOption(options.keysCooldownMs, 'keysCooldownMs', KEY_DEFAULTS.cooldownMs, 0, 3_600_000),
    tokenCacheEntries: numberOption(options.tokenCacheEntries, 'tokenCacheEntries', IDENTITY_DEFAULTS.tokenCacheEntries, 0, 1_000_000),
    tokenCacheMaxBytes: numberOption(options.tokenCacheMaxBytes, 'tokenCacheMaxBytes', IDENTITY_DEFAULTS.tokenCacheMaxBytes, 0, 1024 * 1024 * 1024),
    authMethod,
    tokenEndpoint: endpointOption(options.tokenEndpoint, 'tokenEndpoint'),
    authorizationEndpoint: endpointOption(options.authorizationEndpoint, 'authorizationEndpoint'),
    validation,
    introspectionEndpoint: endpointOption(options.introspectionEndpoint, 'introspectionEndpoint'),
    introspectionCacheSec: numberOption(options.introspectionCacheSec, 'introspectionCacheSec', INTROSPECTION_DEFAULTS.cacheSec, 0, 3600),
    jweAlgorithms: allowlist(options.jweAlgorithms, 'jweAlgorithms', JWE_KEY_ALGORITHMS, JWE_DEFAULTS.algorithms),
    jweEncryptions: allowlist(options.jweEncryptions, 'jweEncryptions', JWE_CONTENT_ENCRYPTIONS, JWE_DEFAULTS.encryptions),
  };
}

/**
 * What keeps these options from introspecting, if anything: the provider must know who asks
 * (RFC 7662 §2.1), so a client id with its secret or key is required, and a public client (`none`)
 * cannot do it. A private key that cannot be read keeps its own code.
 */
function introspectionProblem(settings: IdentitySettings, clientProblem: ConfigurationError | undefined): ConfigurationError | undefined {
  if (clientProblem?.code === 'ERR_CONFIG_PRIVATE_KEY_INVALID') return clientProblem;
  const option = clientProblem?.option ?? (settings.authMethod === 'none' ? 'authMethod' : undefined);
  if (!option) return undefined;
  return new ConfigurationError('ERR_CONFIG_INTROSPECTION_CLIENT', option,
    `validation ${settings.validation} asks the provider's introspection endpoint, which needs the client id and the client's `
    + 'secret or private key (a public client cannot introspect)');
}

/** What keeps these options from obtaining tokens, if anything (reported by the nodes that need them). */
function tokenProblem(settings: IdentitySettings, clientSecret: string | undefined, clientKey: ClientKey | undefined): ConfigurationError | undefined {
  if (!settings.clientId) {
    return new ConfigurationError('ERR_CONFIG_CLIENT_MISSING', 'clientId', 'a client id is needed to request tokens');
  }
  if ((settings.authMethod === 'client_secret_basic' || settings.authMethod === 'client_secret_post') && !clientSecret) {
    return new ConfigurationError('ERR_CONFIG_CLIENT_MISSING', 'clientSecret', `${settings.authMethod} needs the client secret`);
  }
  if (settings.authMethod === 'private_key_jwt' && !clientKey) {
    return new ConfigurationError('ERR_CONFIG_PRIVATE_KEY_INVALID', 'privateKey', 'private_key_jwt needs the private key');
  }
  return undefined;
}

const MAX_CLAIM_PATHS = 16;
const MAX_CLAIM_PATH_LENGTH = 256;

/** Claim paths: dot-separated names without empty steps, or one URL-named claim (see `ClaimMapping`). */
function claimPaths(value: string | readonly string[] | undefined, option: string): string[] {
  const paths = listOption(value);
  const wellFormed = (path: string): boolean => path.length <= MAX_CLAIM_PATH_LENGTH
    && (/^https?:\/\/\S+$/.test(path) || path.split('.').every((step) => step.length > 0));
  if (paths.length > MAX_CLAIM_PATHS || !paths.every(wellFormed)) {
    throw new ConfigurationError('ERR_CONFIG_INVALID', option,
      `${option} must be up to ${MAX_CLAIM_PATHS} claim paths such as scp or realm_access.roles`);
  }
  return paths;
}

/** A URL the provider names; one that does not parse breaks discovery's rules. */
function providerUrl(value: string, member: string): URL {
  try {
    return new URL(value);
  } catch {
    throw new IdentityError('ERR_DISCOVERY_INVALID', `the provider metadata has an invalid ${member}`);
  }
}

/** A list of algorithms, each one of `known`; empty takes `fallback`. */
function allowlist(value: string | readonly string[] | undefined, option: string, known: readonly string[], fallback: readonly string[]): readonly string[] {
  const listed = listOption(value);
  const unknown = listed.find((alg) => !known.includes(alg));
  if (unknown !== undefined) {
    throw new ConfigurationError('ERR_CONFIG_INVALID', option, `${option}: "${unknown}" is not accepted; choose from ${known.join(' ')}`);
  }
  return listed.length > 0 ? listed : fallback;
}

function listOption(value: string | readonly string[] | undefined): string[] {
  return Array.isArray(value) ? value.filter((item) => typeof item === 'string' && item.trim()).map((item) => item.trim()) : words(value);
}

/** An optional number in [min, max]; empty strings (an editor field left blank) take the default. */
function numberOption(value: unknown, option: string, fallback: number, min: number, max: number): number {
  if (value === undefined || value === null || (typeof value === 'string' && value.trim() === '')) return fallback;
  const number = typeof value === 'number' ? value : Number(value);
  if (!Number.isFinite(number) || number < min || number > max) {
    throw new ConfigurationError('ERR_CONFIG_INVALID', option, `${option} must be a number from ${min} to ${max}`);
  }
  return number;
}
