/**
 * What a flow needs to know about a verified token, the same whatever provider issued it, and the
 * route's authorization rules.
 *
 * Providers spell scopes and roles differently: `scope` as a space-separated string (RFC 8693 §4.2,
 * RFC 9068 §2.2.3), `scp` as a string or an array (Okta, Entra); roles in `realm_access.roles` and
 * `resource_access.<client>.roles` (Keycloak), `roles` (Entra, RFC 9068 §2.2.3.1), `groups` (Okta,
 * RFC 7643 via RFC 9068), `permissions` (Auth0). They are all read, and a claim of the wrong type is
 * ignored rather than trusted.
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
 * @param roleClientId the client whose Keycloak `resource_access` roles count (identity-config's `clientId`)
 */
export function toAuthInfo(claims: JWTPayload, roleClientId?: string): AuthInfo {
  return {
    subject: stringOrUndefined(claims.sub),
    clientId: stringOrUndefined(claims.client_id) ?? stringOrUndefined(claims.azp)
      ?? stringOrUndefined(claims.cid) ?? stringOrUndefined(claims.appid),
    scopes: unique([...words(claims.scope), ...stringList(claims.scp)]),
    roles: unique([
      ...stringList(objectAt(claims, 'realm_access')?.roles),
      ...(roleClientId ? stringList(objectAt(objectAt(claims, 'resource_access'), roleClientId)?.roles) : []),
      ...stringList(claims.roles),
      ...stringList(claims.groups),
      ...stringList(claims.permissions),
    ]),
    issuer: stringOrUndefined(claims.iss),
    audience: typeof claims.aud === 'string' ? [claims.aud] : stringList(claims.aud),
    expiresAt: isoTime(claims.exp),
    claims,
  };
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

function objectAt(container: unknown, key: string): Record<string, unknown> | undefined {
  if (!container || typeof container !== 'object') return undefined;
  if (!Object.prototype.hasOwnProperty.call(container, key)) return undefined;
  const value = (container as Record<string, unknown>)[key];
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
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
