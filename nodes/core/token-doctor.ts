/**
 * The token doctor: why validate-token refuses a token, said in the integrator's terms.
 *
 * Given the options of an identity-config as they are being edited (and a validate-token's rules),
 * it fetches the provider's metadata and key set, takes a pasted token or obtains one with the
 * configured grant, and evaluates every rule validate-token applies, each with what was expected
 * and what the token holds: the header policy (RFC 8725 §3.1; `typ` `at+jwt`, RFC 9068 §2.1), the
 * signature with the provider's keys (the real verifier), `iss` (RFC 8725 §3.8), `aud` (§3.9),
 * `exp`, `nbf` and `iat` with the clock tolerance (RFC 7519 §4.1), the claims RFC 9068 §2.2
 * requires, and scopes and roles through the configured claim mapping. Then it names the likely
 * misconfiguration behind a failure as a hint with a stable code: the pitfalls of known providers
 * (Entra ID token versions, Keycloak's `account` audience, Auth0 tokens requested without an
 * audience, Okta's org server), trailing slashes, claims read from the wrong place, clocks, HMAC
 * and unsigned tokens.
 *
 * The verdict is what `Identity.authenticate`, the request path of validate-token, answers for the
 * token: the doctor explains that answer and never decides otherwise. `analyse` is pure; only
 * `runTokenDoctor` talks to the provider, through the HTTP client it is given. The report carries the
 * decoded header and claims (the token is the user's own), never the token, a secret or a password.
 */
import { decodeProtectedHeader, type JWTPayload } from 'jose';
import { toAuthInfo, KNOWN_ROLE_CLAIMS, KNOWN_SCOPE_CLAIMS, type AccessRules } from './claims';
import { discoveryUrls } from './discovery';
import { IdentityError, isIdentityError, type ErrorCode } from './errors';
import type { HttpClient } from './http';
import { Identity, parseAccessRules, type IdentityOptions, type IdentitySettings } from './identity';
import { ASYMMETRIC_ALGORITHMS, KeyStore } from './keys';
import { TENANT_PLACEHOLDER } from './issuers';
import type { TokenResponse } from './token-client';
import { TokenVerifier } from './verifier';

/** The checks, in the order the report lists them. */
export const DOCTOR_CHECKS = [
  'configuration', 'discovery', 'keys', 'token', 'decode', 'algorithm', 'type', 'signature',
  'issuer', 'audience', 'expiry', 'notBefore', 'issuedAt', 'rfc9068Claims', 'scopes', 'roles',
] as const;
export type DoctorCheck = typeof DOCTOR_CHECKS[number];

/** Hint codes: stable, like error codes; the editor's catalog holds their texts. */
export const HINT_CODES = [
  'HINT_STORED_SECRET_WITHHELD', 'HINT_DISCOVERY_ISSUER', 'HINT_ENTRA_V1_ENDPOINTS',
  'HINT_TOKEN_OPAQUE', 'HINT_TOKEN_ENCRYPTED', 'HINT_AUTH0_AUDIENCE',
  'HINT_ALG_NONE', 'HINT_ALG_SYMMETRIC', 'HINT_ALG_NOT_ALLOWED', 'HINT_RFC9068_TYPE', 'HINT_RFC9068_CLAIMS',
  'HINT_KEY_UNKNOWN', 'HINT_SIGNATURE_INVALID',
  'HINT_ENTRA_TOKEN_VERSION', 'HINT_TENANT_NOT_LISTED', 'HINT_ISSUER_TRAILING_SLASH', 'HINT_OKTA_ORG_SERVER', 'HINT_ISSUER_OTHER',
  'HINT_AUDIENCE_NOT_CONFIGURED', 'HINT_KEYCLOAK_AUDIENCE_MAPPER', 'HINT_ENTRA_AUDIENCE', 'HINT_AUDIENCE_OTHER',
  'HINT_TOKEN_EXPIRED', 'HINT_CLOCK_SKEW',
  'HINT_SCOPE_CLAIM', 'HINT_SCOPE_MISSING', 'HINT_KEYCLOAK_CLIENT_ROLES', 'HINT_ROLE_CLAIM', 'HINT_ROLE_MISSING',
] as const;
export type HintCode = typeof HINT_CODES[number];

export interface DoctorStep {
  check: DoctorCheck;
  status: 'pass' | 'fail' | 'skip';
  /** What the configuration asks for, as data (claim values, URLs, `> <ISO time>`). */
  expected?: string;
  /** What the provider or the token shows. */
  actual?: string;
  /** Why it failed (or, for a skipped provider call, why that did not work). */
  code?: ErrorCode;
  /** The core's message for `code`; names URLs and options, never a token or secret. */
  detail?: string;
}

export interface DoctorHint {
  code: HintCode;
  /** The values its text shows (claim values, issuers, seconds), as strings. */
  values: Record<string, string>;
}

export interface DoctorReport {
  steps: DoctorStep[];
  hints: DoctorHint[];
  /** The decoded header and claims; absent when the token is not a JWT. */
  token?: { header: Record<string, unknown>; claims: Record<string, unknown> };
  /** What validate-token answers for this token; absent when there is no token. */
  verdict?: { accepted: boolean; code?: ErrorCode; detail?: string };
}

export interface DoctorGrant {
  type: 'client_credentials' | 'password';
  scope?: string;
  username?: string;
  password?: string;
}

export interface DoctorRequest {
  /** identity-config's options as edited, with the credentials typed in, if any. */
  options: IdentityOptions;
  /** validate-token's rules: scopes (all required) and roles (any one), space-separated. */
  scope?: string;
  roles?: string;
  /** A pasted access token (a leading "Bearer " is dropped); or else `grant`. */
  token?: string;
  grant?: DoctorGrant;
  /** The preset the options came from, which sharpens hints (Auth0 behind a custom domain). */
  provider?: string;
  /**
   * The client's credentials are the ones stored with the deployed identity-config (the editor left
   * them unchanged). They are used, through that identity, only when the options send them exactly
   * where the deployed ones go; `deployed` is undefined when no such node runs.
   */
  storedCredentials?: { deployed: Pick<Identity, 'settings' | 'tokens'> | undefined };
}

export interface DoctorEnvironment {
  /** Milliseconds since the epoch. */
  now(): number;
  /** The HTTP client for these settings (timeout, size limit, TLS); may throw a `ConfigurationError`. */
  httpFor(settings: IdentitySettings): HttpClient;
}

interface Problem {
  code: ErrorCode;
  detail: string;
}

type Outcome = { state: 'ok' } | { state: 'failed'; problem: Problem } | { state: 'not-run' };

/** Everything the doctor found out; `analyse` turns it into a report. */
export interface DoctorEvidence {
  nowMs: number;
  settings?: IdentitySettings;
  configProblem?: Problem;
  rules: AccessRules;
  provider?: string;
  discovery: Outcome & { needed: boolean; advertisedIssuer?: string };
  keys: Outcome & { count?: number };
  source:
    | { kind: 'none' }
    | { kind: 'pasted' }
    | { kind: 'grant'; grant: string; problem?: Problem; withheld?: boolean; response?: Pick<TokenResponse, 'token_type' | 'expires_in' | 'scope'> };
  token?: string;
  /** `valid`: a provider key verified the signature; `invalid`: no key did (or none could be chosen). */
  signature: { state: 'valid' } | { state: 'invalid'; problem: Problem } | { state: 'unchecked' };
  verdict?: DoctorReport['verdict'];
}

const AT_JWT = /^(application\/)?at\+jwt$/i;
const RFC9068_CLAIMS = ['sub', 'client_id', 'iat', 'jti'];
/** Claims that name parties and times, never scopes or roles: not searched for misplaced ones. */
const REGISTERED_CLAIMS = new Set(['iss', 'sub', 'aud', 'exp', 'nbf', 'iat', 'jti', 'azp', 'client_id', 'cid', 'appid', 'tid', 'oid']);
const MAX_SEARCH_DEPTH = 4;

/** Runs every check for one token (or one grant) and explains the outcome; never rejects for a provider or token problem. */
export async function runTokenDoctor(request: DoctorRequest, env: DoctorEnvironment): Promise<DoctorReport> {
  return analyse(await gather(request, env));
}

async function gather(request: DoctorRequest, env: DoctorEnvironment): Promise<DoctorEvidence> {
  const evidence: DoctorEvidence = {
    nowMs: env.now(),
    rules: { scopes: [], roles: [] },
    provider: request.provider,
    discovery: { state: 'not-run', needed: true },
    keys: { state: 'not-run' },
    source: request.grant ? { kind: 'grant', grant: request.grant.type } : { kind: request.token ? 'pasted' : 'none' },
    token: request.grant ? undefined : normaliseToken(request.token),
    signature: { state: 'unchecked' },
  };
  let identity: Identity | undefined;
  let keys: KeyStore | undefined;
  try {
    evidence.rules = parseAccessRules(request.scope ?? '', request.roles ?? '');
    // Validated once without credentials, so the settings can decide whether stored ones may be used.
    const validated = new Identity({ ...request.options, now: env.now });
    validated.close();
    const { settings } = validated;
    const { storedCredentials } = request;
    const deployed = storedCredentials?.deployed;
    const useDeployed = deployed !== undefined && sendsCredentialsAlike(settings, deployed.settings);
    const options: IdentityOptions = storedCredentials ? withoutCredentials(request.options) : request.options;
    const http = env.httpFor(settings);
    const built: Identity = new Identity({ ...options, now: env.now, http });
    identity = built;
    evidence.settings = built.settings;

    await checkDiscovery(evidence, built, http);
    keys = new KeyStore({
      http,
      now: env.now,
      jwksUri: async () => built.settings.jwksUri ?? jwksUriOf(await built.metadata()),
      cooldownMs: 0,
      backoffMinMs: built.settings.backoffMinMs,
      backoffMaxMs: built.settings.backoffMaxMs,
    });
    await checkKeys(evidence, keys);

    if (request.grant && evidence.source.kind === 'grant') {
      if (storedCredentials && !useDeployed) {
        evidence.source.withheld = true;
        evidence.source.problem = { code: 'ERR_CONFIG_CLIENT_MISSING', detail: 'the stored credentials are used only as deployed' };
      } else if (!useDeployed && !(await sameOriginAsIssuer(built))) {
        // With settings typed into the dialog, the doctor posts only to the issuer's own origin: an
        // editor must not be able to make the runtime post forms to any address it can reach.
        evidence.source.problem = {
          code: 'ERR_CONFIG_INVALID',
          detail: 'the doctor obtains tokens only from the issuer\'s own origin; deploy the configuration and use its stored secret, or paste a token',
        };
      } else {
        await obtainToken(evidence, request.grant, useDeployed ? (deployed as Pick<Identity, 'tokens'>) : built);
      }
    }
    if (evidence.token !== undefined) {
      if (evidence.keys.state === 'ok') evidence.signature = await checkSignature(evidence.token, built.settings, keys, env.now);
      evidence.verdict = await built.authenticate({ headers: { authorization: `Bearer ${evidence.token}` } }, evidence.rules)
        .then(() => ({ accepted: true }), (error: unknown) => ({ accepted: false, ...problemOf(error) }));
    }
  } catch (error) {
    // Only the options (or the TLS settings behind httpFor) throw this far.
    evidence.configProblem = problemOf(error);
    if (evidence.token !== undefined) evidence.verdict = { accepted: false, ...evidence.configProblem };
  } finally {
    keys?.close();
    identity?.close();
  }
  return evidence;
}

/** Metadata is needed unless both the key set and (to obtain a token) the token endpoint are configured. */
async function checkDiscovery(evidence: DoctorEvidence, identity: Identity, http: HttpClient): Promise<void> {
  const { settings } = identity;
  const needed = !settings.jwksUri || (evidence.source.kind === 'grant' && !settings.tokenEndpoint);
  try {
    await identity.metadata();
    evidence.discovery = { state: 'ok', needed };
  } catch (error) {
    const problem = problemOf(error);
    evidence.discovery = { state: 'failed', problem, needed };
    if (problem.code === 'ERR_DISCOVERY_ISSUER_MISMATCH') evidence.discovery.advertisedIssuer = await advertisedIssuer(http, settings.discoveredIssuer);
  }
}

/** The issuer a metadata document names, to show next to the configured one; undefined when unreadable. */
async function advertisedIssuer(http: HttpClient, issuer: string): Promise<string | undefined> {
  for (const url of discoveryUrls(issuer)) {
    const body = await http.getJson(url).then((response) => response.body, () => undefined);
    const named = body && typeof body === 'object' ? (body as { issuer?: unknown }).issuer : undefined;
    if (typeof named === 'string') return named;
  }
  return undefined;
}

async function checkKeys(evidence: DoctorEvidence, keys: KeyStore): Promise<void> {
  try {
    const count = await keys.warmUp();
    evidence.keys = count > 0
      ? { state: 'ok', count }
      : { state: 'failed', count, problem: { code: 'ERR_JWKS_INVALID', detail: 'the key set holds no public signature key' } };
  } catch (error) {
    evidence.keys = { state: 'failed', problem: problemOf(error) };
  }
}

/** Whether the token endpoint (configured, else discovered) is on the issuer's origin. */
async function sameOriginAsIssuer(identity: Identity): Promise<boolean> {
  try {
    const endpoint = identity.settings.tokenEndpoint ?? (await identity.metadata()).token_endpoint;
    return typeof endpoint === 'string' && new URL(endpoint).origin === new URL(identity.settings.discoveredIssuer).origin;
  } catch {
    return true; // no endpoint to post to: obtaining the token fails with the provider's own reason
  }
}

async function obtainToken(evidence: DoctorEvidence, grant: DoctorGrant, from: Pick<Identity, 'tokens'>): Promise<void> {
  const source = evidence.source as Extract<DoctorEvidence['source'], { kind: 'grant' }>;
  try {
    const scope = (grant.scope ?? '').trim();
    let response: TokenResponse;
    if (grant.type === 'password') {
      if (!grant.username || !grant.password) {
        throw new IdentityError('ERR_INPUT_CREDENTIALS_MISSING', 'the password grant needs a username and a password');
      }
      response = await from.tokens.password(grant.username, grant.password, scope, {});
    } else {
      response = await from.tokens.clientCredentials(scope, {}, false);
    }
    evidence.token = response.access_token;
    source.response = { token_type: response.token_type, expires_in: response.expires_in, scope: response.scope };
  } catch (error) {
    source.problem = problemOf(error);
  }
}

/**
 * The signature alone, with the real verifier and the provider's keys, but any asymmetric algorithm
 * and no RFC 9068 rules: jose checks the signature before the claims, so a failure after the key
 * was found that is not about the signature means the signature held.
 */
async function checkSignature(token: string, settings: IdentitySettings, keys: KeyStore, now: () => number): Promise<DoctorEvidence['signature']> {
  let keyFound = false;
  let keyProblem: unknown;
  const verifier = new TokenVerifier({
    issuer: settings.issuers,
    audiences: settings.audiences,
    algorithms: ASYMMETRIC_ALGORITHMS,
    clockToleranceSec: settings.clockToleranceSec,
    rfc9068: false,
    maxTokenLength: settings.maxTokenLength,
    keys: {
      keyFor: (kid, alg) => keys.keyFor(kid, alg).then((key) => {
        keyFound = true;
        return key;
      }, (error: unknown) => {
        keyProblem = error;
        throw error;
      }),
    },
    now,
  });
  try {
    await verifier.verify(token);
    return { state: 'valid' };
  } catch (error) {
    const problem = problemOf(keyProblem ?? error);
    return keyFound && problem.code !== 'ERR_TOKEN_SIGNATURE' ? { state: 'valid' } : { state: 'invalid', problem };
  }
}

/** Turns what the doctor found into the report: one step per check, and the hints. Pure. */
export function analyse(evidence: DoctorEvidence): DoctorReport {
  const report = new ReportBuilder();
  const { settings } = evidence;
  report.step('configuration', evidence.configProblem ? fail(evidence.configProblem) : { status: 'pass' });
  analyseProvider(evidence, report);
  analyseSource(evidence, report);
  const decoded = evidence.token === undefined ? undefined : decode(evidence.token);
  if (decoded && 'header' in decoded) report.token = decoded;
  if (evidence.token === undefined) {
    report.skipFrom('decode');
  } else if (!decoded || !('header' in decoded)) {
    const encrypted = decoded?.kind === 'encrypted';
    report.step('decode', fail({ code: encrypted ? 'ERR_TOKEN_ENCRYPTED' : 'ERR_TOKEN_MALFORMED', detail: '' },
      { expected: 'JWS', actual: encrypted ? 'JWE' : 'opaque' }));
    if (isAuth0(evidence)) report.hint('HINT_AUTH0_AUDIENCE', { audience: settings?.audiences[0] ?? '' });
    else report.hint(encrypted ? 'HINT_TOKEN_ENCRYPTED' : 'HINT_TOKEN_OPAQUE', {});
    report.skipFrom('algorithm');
  } else {
    report.step('decode', { status: 'pass', actual: 'JWS' });
    if (settings) analyseToken(evidence, settings, decoded, report);
    else report.skipFrom('algorithm');
  }
  report.verdict = evidence.verdict;
  return report.build();
}

function analyseProvider(evidence: DoctorEvidence, report: ReportBuilder): void {
  const { discovery, keys, settings } = evidence;
  if (discovery.state === 'ok') {
    report.step('discovery', { status: 'pass', expected: settings?.discoveredIssuer, actual: settings?.discoveredIssuer });
  } else if (discovery.state === 'failed') {
    const values = { expected: settings?.discoveredIssuer, actual: discovery.advertisedIssuer };
    report.step('discovery', discovery.needed ? fail(discovery.problem, values) : { status: 'skip', ...values, ...discovery.problem });
    const issuer = settings?.discoveredIssuer ?? '';
    if (discovery.advertisedIssuer !== undefined) {
      report.hint(sameButSlash(discovery.advertisedIssuer, issuer) ? 'HINT_ISSUER_TRAILING_SLASH' : 'HINT_DISCOVERY_ISSUER',
        { found: discovery.advertisedIssuer, issuer });
    } else if (discovery.needed && entraVersion(issuer) === '1.0') {
      report.hint('HINT_ENTRA_V1_ENDPOINTS', {});
    }
  } else {
    report.step('discovery', { status: 'skip' });
  }
  if (keys.state === 'ok') report.step('keys', { status: 'pass', actual: String(keys.count) });
  else if (keys.state === 'failed') report.step('keys', fail(keys.problem, { actual: keys.count === undefined ? undefined : String(keys.count) }));
  else report.step('keys', { status: 'skip' });
}

function analyseSource(evidence: DoctorEvidence, report: ReportBuilder): void {
  const { source } = evidence;
  if (source.kind === 'none') {
    report.step('token', { status: 'skip' });
  } else if (source.kind === 'pasted') {
    report.step('token', { status: 'pass', actual: 'pasted' });
  } else if (source.problem) {
    report.step('token', fail(source.problem, { actual: source.grant }));
    if (source.withheld) report.hint('HINT_STORED_SECRET_WITHHELD', {});
  } else if (source.response) {
    const { token_type: type, expires_in: expiresIn, scope } = source.response;
    report.step('token', {
      status: 'pass',
      actual: [`grant_type=${source.grant}`, `token_type=${type}`, ...(expiresIn === undefined ? [] : [`expires_in=${expiresIn}`]),
        ...(scope ? [`scope=${scope}`] : [])].join(' '),
    });
  } else {
    report.step('token', { status: 'skip', actual: source.grant });
  }
}

interface Decoded {
  header: Record<string, unknown>;
  claims: Record<string, unknown>;
}

function analyseToken(evidence: DoctorEvidence, settings: IdentitySettings, token: Decoded, report: ReportBuilder): void {
  const { header, claims } = token;
  const nowSec = Math.floor(evidence.nowMs / 1000);
  const tolerance = settings.clockToleranceSec;

  // Header: the algorithm and, in RFC 9068 mode, the type.
  const alg = typeof header.alg === 'string' ? header.alg : undefined;
  const algOk = alg !== undefined && settings.algorithms.includes(alg);
  report.step('algorithm', algOk ? { status: 'pass', expected: settings.algorithms.join(' '), actual: alg }
    : fail({ code: 'ERR_TOKEN_ALG_NOT_ALLOWED', detail: '' }, { expected: settings.algorithms.join(' '), actual: alg ?? '-' }));
  if (alg === 'none') report.hint('HINT_ALG_NONE', {});
  else if (alg !== undefined && /^HS\d+$/.test(alg)) report.hint('HINT_ALG_SYMMETRIC', { alg });
  else if (alg !== undefined && !algOk && ASYMMETRIC_ALGORITHMS.includes(alg)) {
    report.hint('HINT_ALG_NOT_ALLOWED', { alg, algorithms: settings.algorithms.join(' ') });
  }
  const typ = typeof header.typ === 'string' ? header.typ : undefined;
  if (!settings.rfc9068) {
    report.step('type', { status: 'skip', actual: typ });
  } else if (typ !== undefined && AT_JWT.test(typ)) {
    report.step('type', { status: 'pass', expected: 'at+jwt', actual: typ });
  } else {
    report.step('type', fail({ code: 'ERR_TOKEN_TYPE', detail: '' }, { expected: 'at+jwt', actual: typ ?? '-' }));
    report.hint('HINT_RFC9068_TYPE', { typ: typ ?? '-' });
  }

  // Signature, issuer, audience.
  const kid = typeof header.kid === 'string' ? header.kid : '-';
  const { signature } = evidence;
  const iss = typeof claims.iss === 'string' ? claims.iss : undefined;
  const issuerOk = iss !== undefined && settings.issuers.includes(iss);
  if (signature.state === 'valid') report.step('signature', { status: 'pass', actual: kid });
  else if (signature.state === 'invalid') {
    report.step('signature', fail(signature.problem, { actual: kid }));
    if (signature.problem.code === 'ERR_TOKEN_SIGNATURE') report.hint('HINT_SIGNATURE_INVALID', {});
    else if (signature.problem.code === 'ERR_TOKEN_KEY_UNKNOWN' && issuerOk) report.hint('HINT_KEY_UNKNOWN', { kid });
  } else report.step('signature', { status: 'skip', actual: kid });

  const expectedIssuer = settings.issuers.join(' ');
  report.step('issuer', issuerOk ? { status: 'pass', expected: expectedIssuer, actual: iss }
    : fail({ code: 'ERR_TOKEN_ISSUER', detail: '' }, { expected: expectedIssuer, actual: iss ?? '-' }));
  const issuerHint = issuerOk || iss === undefined ? undefined : issuerHintFor(iss, settings);
  if (issuerHint) report.hint(issuerHint.code, issuerHint.values);

  const aud = typeof claims.aud === 'string' ? [claims.aud] : stringArray(claims.aud);
  const expectedAudience = settings.audiences.join(' ');
  if (settings.audiences.length === 0) {
    report.step('audience', fail({ code: 'ERR_CONFIG_AUDIENCE_MISSING', detail: '' }, { actual: aud.join(' ') || '-' }));
    report.hint('HINT_AUDIENCE_NOT_CONFIGURED', { aud: aud.join(' ') || '-' });
  } else if (aud.some((value) => settings.audiences.includes(value))) {
    report.step('audience', { status: 'pass', expected: expectedAudience, actual: aud.join(' ') });
  } else {
    report.step('audience', fail({ code: 'ERR_TOKEN_AUDIENCE', detail: '' }, { expected: expectedAudience, actual: aud.join(' ') || '-' }));
    // A token of another provider altogether is explained by its issuer; its audience says nothing more.
    if (!issuerHint || issuerHint.code === 'HINT_ENTRA_TOKEN_VERSION' || issuerHint.code === 'HINT_ISSUER_TRAILING_SLASH') {
      const hint = audienceHintFor(aud, iss, claims, settings, evidence);
      report.hint(hint.code, hint.values);
    }
  }

  analyseTimes(evidence, settings, claims, nowSec, tolerance, report);

  // RFC 9068 §2.2: the claims strict mode requires.
  if (settings.rfc9068) {
    const missing = RFC9068_CLAIMS.filter((name) => claims[name] === undefined);
    const present = RFC9068_CLAIMS.filter((name) => claims[name] !== undefined).join(' ') || '-';
    report.step('rfc9068Claims', missing.length === 0 ? { status: 'pass', expected: RFC9068_CLAIMS.join(' '), actual: present }
      : fail({ code: 'ERR_TOKEN_CLAIM_INVALID', detail: '' }, { expected: RFC9068_CLAIMS.join(' '), actual: present }));
    if (missing.length > 0) report.hint('HINT_RFC9068_CLAIMS', { missing: missing.join(' ') });
  } else {
    report.step('rfc9068Claims', { status: 'skip' });
  }

  analyseAccess(evidence.rules, settings, claims, report);
}

function analyseTimes(evidence: DoctorEvidence, settings: IdentitySettings, claims: Record<string, unknown>,
  nowSec: number, tolerance: number, report: ReportBuilder): void {
  const { exp, nbf, iat } = claims;
  if (typeof exp !== 'number') {
    report.step('expiry', fail({ code: 'ERR_TOKEN_CLAIM_INVALID', detail: '' }, { expected: 'exp', actual: '-' }));
  } else if (exp > nowSec - tolerance) {
    report.step('expiry', { status: 'pass', expected: `> ${isoTime(nowSec - tolerance)}`, actual: isoTime(exp) });
  } else {
    report.step('expiry', fail({ code: 'ERR_TOKEN_EXPIRED', detail: '' }, { expected: `> ${isoTime(nowSec - tolerance)}`, actual: isoTime(exp) }));
    // A token obtained a moment ago cannot have expired unless the two clocks disagree.
    if (evidence.source.kind === 'grant') report.hint('HINT_CLOCK_SKEW', { seconds: String(nowSec - exp) });
    else report.hint('HINT_TOKEN_EXPIRED', { ago: String(nowSec - exp), exp: isoTime(exp) });
  }
  if (nbf === undefined) {
    report.step('notBefore', { status: 'skip' });
  } else if (typeof nbf === 'number' && nbf <= nowSec + tolerance) {
    report.step('notBefore', { status: 'pass', expected: `<= ${isoTime(nowSec + tolerance)}`, actual: isoTime(nbf) });
  } else {
    const code: ErrorCode = typeof nbf === 'number' ? 'ERR_TOKEN_NOT_YET_VALID' : 'ERR_TOKEN_CLAIM_INVALID';
    report.step('notBefore', fail({ code, detail: '' }, { expected: `<= ${isoTime(nowSec + tolerance)}`, actual: typeof nbf === 'number' ? isoTime(nbf) : String(nbf) }));
    if (typeof nbf === 'number') report.hint('HINT_CLOCK_SKEW', { seconds: String(nbf - nowSec) });
  }
  // jose checks only the type of iat, and RFC 9068 requires it; one from the future still says the clocks differ.
  if (iat === undefined) {
    report.step('issuedAt', settings.rfc9068 ? fail({ code: 'ERR_TOKEN_CLAIM_INVALID', detail: '' }, { expected: 'iat', actual: '-' }) : { status: 'skip' });
  } else if (typeof iat !== 'number') {
    report.step('issuedAt', fail({ code: 'ERR_TOKEN_CLAIM_INVALID', detail: '' }, { expected: 'NumericDate', actual: String(iat) }));
  } else {
    report.step('issuedAt', { status: 'pass', actual: isoTime(iat) });
    if (iat > nowSec + tolerance) report.hint('HINT_CLOCK_SKEW', { seconds: String(iat - nowSec) });
  }
}

function analyseAccess(rules: AccessRules, settings: IdentitySettings, claims: Record<string, unknown>, report: ReportBuilder): void {
  const { clientId, scopeClaims, roleClaims } = settings;
  const auth = toAuthInfo(claims as JWTPayload, { clientId, scopeClaims, roleClaims });
  const readScopes = configuredPaths(scopeClaims, KNOWN_SCOPE_CLAIMS, clientId);
  const readRoles = configuredPaths(roleClaims, KNOWN_ROLE_CLAIMS, clientId);

  const missing = rules.scopes.filter((scope) => !auth.scopes.includes(scope));
  if (rules.scopes.length === 0) report.step('scopes', { status: 'skip', actual: auth.scopes.join(' ') });
  else if (missing.length === 0) report.step('scopes', { status: 'pass', expected: rules.scopes.join(' '), actual: auth.scopes.join(' ') });
  else {
    report.step('scopes', fail({ code: 'ERR_SCOPE_INSUFFICIENT', detail: '' }, { expected: rules.scopes.join(' '), actual: auth.scopes.join(' ') || '-' }));
    const unplaced: string[] = [];
    for (const scope of missing) {
      const claim = locate(claims, scope, readScopes);
      if (claim) report.hint('HINT_SCOPE_CLAIM', { scope, claim, claims: readScopes.join(' ') });
      else unplaced.push(scope);
    }
    if (unplaced.length > 0) report.hint('HINT_SCOPE_MISSING', { scopes: unplaced.join(' ') });
  }

  if (rules.roles.length === 0) report.step('roles', { status: 'skip', actual: auth.roles.join(' ') });
  else if (rules.roles.some((role) => auth.roles.includes(role))) {
    report.step('roles', { status: 'pass', expected: rules.roles.join(' '), actual: auth.roles.join(' ') });
  } else {
    report.step('roles', fail({ code: 'ERR_ROLE_INSUFFICIENT', detail: '' }, { expected: rules.roles.join(' '), actual: auth.roles.join(' ') || '-' }));
    let placed = false;
    for (const role of rules.roles) {
      const claim = locate(claims, role, readRoles);
      if (!claim) continue;
      placed = true;
      const client = /^resource_access\.(.+)\.roles$/.exec(claim)?.[1];
      if (client !== undefined) report.hint('HINT_KEYCLOAK_CLIENT_ROLES', { role, client, clientId: clientId ?? '-' });
      else report.hint('HINT_ROLE_CLAIM', { role, claim, claims: readRoles.join(' ') });
    }
    if (!placed) report.hint('HINT_ROLE_MISSING', { roles: rules.roles.join(' ') });
  }
}

/** Why a token of another `iss` is refused, most specific first. */
function issuerHintFor(iss: string, settings: IdentitySettings): DoctorHint {
  const tokenVersion = entraVersion(iss);
  const configuredVersion = entraVersion(settings.issuer);
  if (tokenVersion && configuredVersion && tokenVersion !== configuredVersion) {
    return { code: 'HINT_ENTRA_TOKEN_VERSION', values: { version: tokenVersion, configured: configuredVersion } };
  }
  const tenant = tenantOf(iss, settings.issuer);
  if (tenant !== undefined) return { code: 'HINT_TENANT_NOT_LISTED', values: { tenant } };
  const slashed = settings.issuers.find((issuer) => sameButSlash(iss, issuer));
  if (slashed !== undefined) return { code: 'HINT_ISSUER_TRAILING_SLASH', values: { found: iss, issuer: slashed } };
  if (isOktaOrgServer(iss, settings.issuer)) return { code: 'HINT_OKTA_ORG_SERVER', values: { iss, issuer: settings.issuer } };
  return { code: 'HINT_ISSUER_OTHER', values: { iss, issuer: settings.issuers.join(' ') } };
}

function audienceHintFor(aud: string[], iss: string | undefined, claims: Record<string, unknown>,
  settings: IdentitySettings, evidence: DoctorEvidence): DoctorHint {
  const audience = settings.audiences.join(' ');
  const shown = aud.join(' ') || '-';
  const keycloak = evidence.provider === 'keycloak' || (iss ?? settings.issuer).includes('/realms/');
  if (keycloak && aud.includes('account')) {
    const client = [claims.azp, claims.client_id].find((value): value is string => typeof value === 'string') ?? '-';
    return { code: 'HINT_KEYCLOAK_AUDIENCE_MAPPER', values: { audience: settings.audiences[0], client } };
  }
  if (entraVersion(iss ?? settings.issuer)) return { code: 'HINT_ENTRA_AUDIENCE', values: { aud: shown, audience } };
  if (isAuth0(evidence) && aud.length > 0 && aud.every((value) => value.endsWith('/userinfo'))) {
    return { code: 'HINT_AUTH0_AUDIENCE', values: { audience: settings.audiences[0] } };
  }
  return { code: 'HINT_AUDIENCE_OTHER', values: { aud: shown, audience } };
}

/** The Microsoft Entra ID access token version an issuer stands for: v1.0 `sts.windows.net`, v2.0 `login.microsoftonline.com/…/v2.0`. */
function entraVersion(issuer: string): '1.0' | '2.0' | undefined {
  const url = parseUrl(issuer);
  if (url?.hostname === 'sts.windows.net') return '1.0';
  if (url?.hostname === 'login.microsoftonline.com' && /\/v2\.0\/?$/.test(url.pathname)) return '2.0';
  return undefined;
}

/** The tenant of an `iss` that fits the configured issuer template, when the template has one. */
function tenantOf(iss: string, template: string): string | undefined {
  if (!template.includes(TENANT_PLACEHOLDER)) return undefined;
  const [before, after] = template.split(TENANT_PLACEHOLDER).map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${before}([A-Za-z0-9][A-Za-z0-9._-]{0,127})${after}$`).exec(iss)?.[1];
}

/** Okta's org server has the bare domain as its issuer; custom servers live below `/oauth2/`. */
function isOktaOrgServer(iss: string, configured: string): boolean {
  const token = parseUrl(iss);
  const ours = parseUrl(configured);
  return token !== undefined && ours !== undefined && token.origin === ours.origin
    && (token.pathname === '/' || token.pathname === '') && ours.pathname.startsWith('/oauth2/');
}

function isAuth0(evidence: DoctorEvidence): boolean {
  const host = parseUrl(evidence.settings?.issuer ?? '')?.hostname ?? '';
  return evidence.provider === 'auth0' || host.endsWith('.auth0.com');
}

function sameButSlash(a: string, b: string): boolean {
  return a !== b && a.replace(/\/+$/, '') === b.replace(/\/+$/, '');
}

/** The claim paths read for scopes or roles, `{clientId}` filled in (paths needing a missing client id drop out). */
function configuredPaths(configured: readonly string[], known: readonly string[], clientId: string | undefined): string[] {
  return (configured.length > 0 ? configured : known)
    .filter((path) => clientId || !path.includes('{clientId}'))
    .map((path) => (clientId ? path.replace('{clientId}', clientId) : path));
}

/**
 * The first claim path, other than the ones read already, whose value (a space-separated string or
 * an array of strings) holds `value`: where a scope or role sits that the mapping misses.
 */
function locate(claims: Record<string, unknown>, value: string, read: readonly string[]): string | undefined {
  const pending: Array<[string, unknown, number]> = Object.entries(claims)
    .filter(([name]) => !REGISTERED_CLAIMS.has(name)).map(([name, member]) => [name, member, 1]);
  while (pending.length > 0) {
    const [path, member, depth] = pending.shift() as [string, unknown, number];
    const found = typeof member === 'string' ? member.split(/\s+/).includes(value) : Array.isArray(member) && member.includes(value);
    if (found && !read.includes(path)) return path;
    if (member && typeof member === 'object' && !Array.isArray(member) && depth < MAX_SEARCH_DEPTH) {
      for (const [name, inner] of Object.entries(member)) pending.push([`${path}.${name}`, inner, depth + 1]);
    }
  }
  return undefined;
}

/** A compact JWS's header and claims, or why the token is none. Nothing is verified here. */
function decode(token: string): Decoded | { kind: 'encrypted' | 'opaque' } {
  const parts = token.split('.');
  if (parts.length === 5) return { kind: 'encrypted' };
  if (parts.length !== 3) return { kind: 'opaque' };
  try {
    const header = decodeProtectedHeader(token) as Record<string, unknown>;
    const claims: unknown = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
    if (!claims || typeof claims !== 'object' || Array.isArray(claims)) return { kind: 'opaque' };
    return { header, claims: claims as Record<string, unknown> };
  } catch {
    return { kind: 'opaque' };
  }
}

function normaliseToken(token: string | undefined): string | undefined {
  const trimmed = token?.trim().replace(/^Bearer\s+/i, '');
  return trimmed ? trimmed : undefined;
}

/** The options without the client's credentials: stored ones are used through the deployed identity only. */
function withoutCredentials(options: IdentityOptions): IdentityOptions {
  const { clientSecret: _secret, privateKey: _key, certificate: _certificate, ...rest } = options;
  return rest;
}

/** Whether these settings send the client's credentials exactly where, and as, the deployed ones do. */
function sendsCredentialsAlike(edited: IdentitySettings, deployed: IdentitySettings): boolean {
  return edited.discoveredIssuer === deployed.discoveredIssuer && edited.tokenEndpoint === deployed.tokenEndpoint
    && edited.clientId === deployed.clientId && edited.authMethod === deployed.authMethod
    && edited.allowInsecureHttp === deployed.allowInsecureHttp;
}

function jwksUriOf(metadata: { jwks_uri?: unknown }): string {
  if (typeof metadata.jwks_uri !== 'string') throw new IdentityError('ERR_DISCOVERY_INVALID', 'the provider metadata has no jwks_uri');
  return metadata.jwks_uri;
}

function problemOf(error: unknown): Problem {
  return isIdentityError(error) ? { code: error.code, detail: error.message } : { code: 'ERR_INTERNAL', detail: 'unexpected failure' };
}

function fail(problem: Problem, values: { expected?: string; actual?: string } = {}): Omit<DoctorStep, 'check'> {
  return { status: 'fail', ...values, code: problem.code, ...(problem.detail ? { detail: problem.detail } : {}) };
}

function stringArray(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
}

function isoTime(seconds: number): string {
  const ms = seconds * 1000;
  return Number.isFinite(ms) && Math.abs(ms) <= 8.64e15 ? new Date(ms).toISOString() : String(seconds);
}

function parseUrl(value: string): URL | undefined {
  try {
    return new URL(value);
  } catch {
    return undefined;
  }
}

/** Collects steps in check order (each check once) and hints without repeats. */
class ReportBuilder {
  private readonly steps = new Map<DoctorCheck, DoctorStep>();
  private readonly hints = new Map<string, DoctorHint>();
  token: DoctorReport['token'];
  verdict: DoctorReport['verdict'];

  step(check: DoctorCheck, step: Omit<DoctorStep, 'check'>): void {
    const clean = Object.fromEntries(Object.entries(step).filter(([, value]) => value !== undefined && value !== ''));
    this.steps.set(check, { check, ...clean } as DoctorStep);
  }

  /** Marks this check and every later one not recorded yet as skipped. */
  skipFrom(check: DoctorCheck): void {
    for (const later of DOCTOR_CHECKS.slice(DOCTOR_CHECKS.indexOf(check))) {
      if (!this.steps.has(later)) this.step(later, { status: 'skip' });
    }
  }

  hint(code: HintCode, values: Record<string, string>): void {
    this.hints.set(`${code}:${JSON.stringify(values)}`, { code, values });
  }

  build(): DoctorReport {
    const steps = DOCTOR_CHECKS.filter((check) => this.steps.has(check)).map((check) => this.steps.get(check) as DoctorStep);
    return {
      steps,
      hints: [...this.hints.values()],
      ...(this.token ? { token: this.token } : {}),
      ...(this.verdict ? { verdict: this.verdict } : {}),
    };
  }
}
