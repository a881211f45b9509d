/**
 * What a flow needs to know about a verified token, the same whatever provider issued it, and the
 * route's authorization rules.
 *
 * Providers spell scopes and roles differently: `scope` as a space-separated string (RFC 8693 §4.2,
 * RFC 9068 §2.2.3), `scp` as a string or an array (Okta, Entra); roles in `realm_access.roles` and
 * `resource_access.<client>.roles` (Keycloak), `roles` (Entra, RFC 9068 §2.2.3.1), `groups` (Okta,
 * RFC 7643 via RFC 9068), `permissions` (Auth0). Unless identity-config names the claims its provider
 * uses (a preset does), they are all read; a claim of the wrong type is ignored rather than trusted.
 */
import type { JWTPayload } from 'jose';
import { AccessDeniedError } from './errors';

/** `msg.auth`: the public contract of validate-token's first output. */
export interface AuthInfo {
  subject: string | undefined;
  clientId: string | undefined;
  scopes: string[];
  roles: string[];
  issuer: string | undefined;
  audience: string[];
  /** ISO 8601 time at which the token expires. */
  expiresAt: string | undefined;
  /** Every verified claim of the token. */
  claims: JWTPayload;
  /** Set when the token's sender constraint was checked: what it is bound to (see `Confirmation`). */
  confirmation?: Confirmation;
}

/**
 * What a sender-constrained token proved to be bound to (RFC 7800 `cnf`): the SHA-256 thumbprint of
 * the DPoP key (`jkt`, RFC 9449 §6) or of the client certificate (`x5t#S256`, RFC 8705 §3.1).
 */
export interface Confirmation {
  jkt?: string;
  'x5t#S256'?: string;
}

/** A member of the token's `cnf` claim (RFC 7800 §3.1), or undefined when there is none. */
export function confirmationClaim(claims: JWTPayload, member: keyof Confirmation): unknown {
  const { cnf } = claims;
  if (!cnf || typeof cnf !== 'object' || Array.isArray(cnf) || !Object.prototype.hasOwnProperty.call(cnf, member)) return undefined;
  return (cnf as Record<string, unknown>)[member];
}

export interface AccessRules {
  /** All of these scopes are required. */
  scopes: readonly string[];
  /** Any one of these roles suffices; empty means no role is required. */
  roles: readonly string[];
}

/** Splits a space-separated option ("a b  c") into its words. */
export function words(value: unknown): string[] {
  return typeof value === 'string' ? value.split(/\s+/).filter((word) => word.length > 0) : [];
}

/**
 * Where a provider puts scopes and roles: claim paths such as `scp` or `realm_access.roles`, where
 * `{clientId}` stands for the client id. A path is split at dots, except a URL (Auth0's namespaced
 * `https://example.com/roles`), which names one top-level claim: one rule, so that no token can
 * choose how its claims are read. An empty list reads every spelling listed at the top of this file.
 */
export interface ClaimMapping {
  clientId?: string;
  scopeClaims?: readonly string[];
  roleClaims?: readonly string[];
}

export const KNOWN_SCOPE_CLAIMS: readonly string[] = ['scope', 'scp'];
export const KNOWN_ROLE_CLAIMS: readonly string[] = ['realm_access.roles', 'resource_access.{clientId}.roles', 'roles', 'groups', 'permissions'];
const CLIENT_ID = '{clientId}';

export function toAuthInfo(claims: JWTPayload, mapping: ClaimMapping = {}): AuthInfo {
  const read = (paths: readonly string[] | undefined, known: readonly string[]): string[] =>
    unique((paths && paths.length > 0 ? paths : known).flatMap((path) => stringList(claimAt(claims, path, mapping.clientId))));
  return {
    subject: stringOrUndefined(claims.sub),
    clientId: stringOrUndefined(claims.client_id) ?? stringOrUndefined(claims.azp)
      ?? stringOrUndefined(claims.cid) ?? stringOrUndefined(claims.appid),
    scopes: read(mapping.scopeClaims, KNOWN_SCOPE_CLAIMS),
    roles: read(mapping.roleClaims, KNOWN_ROLE_CLAIMS),
    issuer: stringOrUndefined(claims.iss),
    audience: typeof claims.aud === 'string' ? [claims.aud] : stringList(claims.aud),
    expiresAt: isoTime(claims.exp),
    claims,
  };
}

/** The value at a claim path; undefined when a step is missing or `{clientId}` has no client id. */
function claimAt(claims: JWTPayload, path: string, clientId: string | undefined): unknown {
  const steps = /^https?:\/\//.test(path) ? [path] : path.split('.');
  let value: unknown = claims;
  for (const step of steps) {
    if (step === CLIENT_ID && !clientId) return undefined;
    const key = step === CLIENT_ID ? clientId as string : step;
    if (!value || typeof value !== 'object' || Array.isArray(value) || !Object.prototype.hasOwnProperty.call(value, key)) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

/** Throws a 403-class `AccessDeniedError` when the token lacks a required scope or every listed role. */
export function checkAccess(auth: AuthInfo, rules: AccessRules): void {
  const missing = rules.scopes.filter((scope) => !auth.scopes.includes(scope));
  if (missing.length > 0) {
    throw new AccessDeniedError('ERR_SCOPE_INSUFFICIENT', `the access token lacks the scope ${missing.join(' ')}`, rules.scopes.join(' '));
  }
  if (rules.roles.length > 0 && !rules.roles.some((role) => auth.roles.includes(role))) {
    throw new AccessDeniedError('ERR_ROLE_INSUFFICIENT', `the access token carries none of the roles ${rules.roles.join(' ')}`);
  }
}

/** A string, or the strings of an array; a space-separated string (Entra `scp`) is split. */
function stringList(value: unknown): string[] {
  if (typeof value === 'string') return words(value);
  if (Array.isArray(value)) return value.filter((item): item is string => typeof item === 'string' && item.length > 0);
  return [];
}

/** A NumericDate as ISO 8601; undefined when it is not one or lies beyond what a Date can hold. */
function isoTime(seconds: unknown): string | undefined {
  const MAX_DATE_MS = 8.64e15;
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || Math.abs(seconds * 1000) > MAX_DATE_MS) return undefined;
  return new Date(seconds * 1000).toISOString();
}

function stringOrUndefined(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}
