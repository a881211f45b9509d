/**
 * The editor's Token doctor: POST /identity-config/doctor on the admin API, for users who may edit
 * flows. It takes the identity-config being edited (and a validate-token's rules) with a pasted
 * token or a grant to run, and answers the doctor's report (nodes/core/token-doctor.ts), with the
 * catalog's sentence for every code.
 *
 * The pasted token, a typed secret and a typed password live only for the request: nothing is
 * logged, stored or sent back but the token's decoded header and claims. A secret the editor left
 * unchanged (Node-RED sends `__PWRD__` for a stored password credential) is never read here: the
 * deployed identity-config of that id obtains the token with its own stored credentials, and only
 * when the edited settings send them where the deployed ones go. Every provider call has the
 * configured timeout and size limit.
 */
import { Agent as HttpsAgent } from 'node:https';
import { IdentityError, ConfigurationError } from '../core/errors';
import { createHttpClient } from '../core/http';
import type { IdentityOptions } from '../core/identity';
import { runTokenDoctor, type DoctorGrant, type DoctorReport, type DoctorRequest } from '../core/token-doctor';
import type { IdentityConfigNode } from './config-node';
import { describeError } from './glue';
import type { AdminRequest, AdminResponse, NodeAPI } from './red';

/** The largest request body accepted, in bytes: a long token, a private key and the options fit. */
export const DOCTOR_MAX_BODY_BYTES = 128 * 1024;
/** Node-RED's stand-in for a stored password-type credential. */
const STORED = '__PWRD__';
/** A property that is one environment variable, which Node-RED resolves at deploy time. */
const ENV_VAR = /^\$\{(\S+)\}$/;
const TEXT_OPTIONS = ['issuer', 'tenants', 'clientId', 'audience', 'scopeClaims', 'roleClaims', 'jwksUri', 'algorithms',
  'clockToleranceSec', 'timeoutMs', 'authMethod', 'tokenEndpoint', 'authorizationEndpoint', 'keyId'] as const;
const SECRET_METHODS = ['client_secret_basic', 'client_secret_post'];

interface PostRequest extends AdminRequest {
  body?: unknown;
  headers: Record<string, string | string[] | undefined>;
}

/** What the admin API offers beyond the part every node uses. */
interface DoctorAPI {
  httpAdmin: { post(path: string, ...handlers: Array<(req: PostRequest, res: AdminResponse, next: () => void) => void>): void };
}

interface TlsConfigNode {
  addTLSOptions(options: Record<string, unknown>): Record<string, unknown>;
}

export function registerDoctorEndpoint(RED: NodeAPI): void {
  const admin = RED as NodeAPI & DoctorAPI;
  admin.httpAdmin.post('/identity-config/doctor', RED.auth.needsPermission('identity-config.write'), (req, res) => {
    if (bodySize(req) > DOCTOR_MAX_BODY_BYTES) {
      res.status(413).json({ problem: problem(RED, 'ERR_INPUT_PARAMS_INVALID', `the request is larger than ${DOCTOR_MAX_BODY_BYTES} bytes`) });
      return;
    }
    let agent: HttpsAgent | undefined;
    let request: DoctorRequest;
    let tls: string | undefined;
    try {
      ({ request, tls } = doctorRequest(admin, req.body));
    } catch (error) {
      res.status(400).json({ problem: problem(RED, 'ERR_INPUT_PARAMS_INVALID', (error as Error).message) });
      return;
    }
    runTokenDoctor(request, {
      now: Date.now,
      httpFor: (settings) => {
        agent = tlsAgent(RED, tls);
        return createHttpClient({ timeoutMs: settings.timeoutMs, maxResponseBytes: settings.maxResponseBytes, httpsAgent: agent });
      },
    }).then((report) => res.json(translated(RED, report)), () => {
      res.json({ problem: problem(RED, 'ERR_INTERNAL', 'unexpected failure') });
    }).finally(() => agent?.destroy());
  });
}

/** The body as the doctor's request, and the tls-config to use; throws an Error naming what is wrong with it. */
function doctorRequest(RED: NodeAPI & DoctorAPI, body: unknown): { request: DoctorRequest; tls: string | undefined } {
  const object = (value: unknown, name: string): Record<string, unknown> => {
    if (value === undefined) return {};
    if (!value || typeof value !== 'object' || Array.isArray(value)) throw new Error(`${name} must be an object`);
    return value as Record<string, unknown>;
  };
  const text = (value: unknown, name: string): string | undefined => {
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'string' && typeof value !== 'number') throw new Error(`${name} must be a string`);
    return String(value);
  };
  const root = object(body, 'the body');
  const config = object(root.config, 'config');
  const id = text(root.id, 'id');
  const found = id ? RED.nodes.getNode(id) : null;
  const deployed = found?.type === 'identity-config' ? (found as IdentityConfigNode) : undefined;
  const was = (name: string): unknown => deployed?.deployedOptions?.[name];
  // A property that is exactly ${NAME} takes the value Node-RED gave the same property of the
  // deployed node, and nothing else: the caller must not be able to read any other variable.
  const resolve = (name: string, value: string | undefined): string | undefined => {
    if (value === undefined || !ENV_VAR.test(value)) return value;
    const deployedValue = was(name);
    return deployedValue === undefined || deployedValue === null ? value : String(deployedValue);
  };
  // What widens whom the runtime talks to counts only as deployed: plain http to another host, a
  // TLS configuration (its client certificate would be presented).
  const options: IdentityOptions = {
    issuer: '', rfc9068: config.rfc9068 === true, allowInsecureHttp: config.allowInsecureHttp === true && was('allowInsecureHttp') === true,
  };
  for (const name of TEXT_OPTIONS) {
    const value = resolve(name, text(config[name], `config.${name}`));
    if (value !== undefined) Object.assign(options, { [name]: value });
  }
  const tls = text(config.tls, 'config.tls') || undefined;
  if (tls !== undefined && tls !== was('tls')) throw new Error('a TLS configuration is used by the doctor only once deployed with this identity-config');
  // Endpoints typed into the dialog: the issuer's own origin, or as deployed.
  for (const name of ['jwksUri', 'tokenEndpoint', 'authorizationEndpoint'] as const) {
    const value = options[name];
    if (value && value !== was(name) && !sameOrigin(value, options.issuer)) {
      throw new Error(`${name} must be on the issuer's origin, or deployed, for the doctor to call it`);
    }
  }
  const credentials = object(root.credentials, 'credentials');
  const clientSecret = text(credentials.clientSecret, 'credentials.clientSecret');
  const privateKey = text(credentials.privateKey, 'credentials.privateKey');
  const method = options.authMethod || 'client_secret_basic';
  const stored = (SECRET_METHODS.includes(method) && clientSecret === STORED) || (method === 'private_key_jwt' && privateKey === STORED);
  Object.assign(options, {
    clientSecret: clientSecret === STORED ? undefined : clientSecret,
    privateKey: privateKey === STORED ? undefined : privateKey,
    certificate: text(credentials.certificate, 'credentials.certificate'),
  });
  const rules = object(root.rules, 'rules');
  const request: DoctorRequest = {
    options,
    scope: text(rules.scope, 'rules.scope'),
    roles: text(rules.roles, 'rules.roles'),
    token: text(root.token, 'token'),
    grant: root.grant === undefined ? undefined : grantOf(object(root.grant, 'grant'), text),
    provider: text(config.preset, 'config.preset'),
    storedCredentials: stored ? { deployed: deployed?.identity } : undefined,
  };
  return { request, tls };
}

function sameOrigin(url: string, issuer: string): boolean {
  try {
    return new URL(url).origin === new URL(issuer.replace('{tenantid}', 'tenant')).origin;
  } catch {
    return false;
  }
}

function grantOf(grant: Record<string, unknown>, text: (value: unknown, name: string) => string | undefined): DoctorGrant {
  const type = text(grant.type, 'grant.type');
  if (type !== 'client_credentials' && type !== 'password') throw new Error('grant.type must be client_credentials or password');
  return { type, scope: text(grant.scope, 'grant.scope'), username: text(grant.username, 'grant.username'), password: text(grant.password, 'grant.password') };
}

/** An https agent with the selected tls-config's options (not kept alive: the doctor runs once). */
function tlsAgent(RED: NodeAPI, id: string | undefined): HttpsAgent | undefined {
  if (!id) return undefined;
  const tls = RED.nodes.getNode(id) as unknown as TlsConfigNode | null;
  if (!tls || typeof tls.addTLSOptions !== 'function') {
    throw new ConfigurationError('ERR_CONFIG_TLS_MISSING', 'tls', 'the selected tls-config node does not exist');
  }
  return new HttpsAgent(tls.addTLSOptions({}));
}

/** The report with the catalog's sentence for each code, in place of the core's English detail. */
function translated(RED: NodeAPI, report: DoctorReport): DoctorReport & { verdict?: { message?: string } } {
  const message = (code: IdentityError['code'] | undefined, detail: string | undefined): { message?: string } =>
    (code ? { message: describeError(RED, new IdentityError(code, detail ?? '')).replace(/[:\s]+$/, '') } : {});
  return {
    ...report,
    steps: report.steps.map(({ detail, ...step }) => ({ ...step, ...message(step.code, detail) })),
    ...(report.verdict ? { verdict: (({ detail, ...verdict }) => ({ ...verdict, ...message(verdict.code, detail) }))(report.verdict) } : {}),
  };
}

function problem(RED: NodeAPI, code: IdentityError['code'], detail: string): { code: string; message: string } {
  return { code, message: describeError(RED, new IdentityError(code, detail)) };
}

/** The declared length, or the parsed body's (a chunked request declares none). */
function bodySize(req: PostRequest): number {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > 0) return declared;
  return Buffer.byteLength(JSON.stringify(req.body ?? null));
}
