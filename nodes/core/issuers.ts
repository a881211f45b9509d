/**
 * Which `iss` values one identity-config accepts. Usually exactly its issuer. A multi-tenant
 * provider (Microsoft Entra ID's `https://login.microsoftonline.com/{tenantid}/v2.0`) issues tokens
 * under one issuer per tenant: the issuer is then a template, and only the tenants listed are
 * accepted. A template without a list would accept every tenant of the provider, every company
 * in the world with an Entra tenant, so the list is required.
 */
import { ConfigurationError } from './errors';

export const TENANT_PLACEHOLDER = '{tenantid}';
const TENANT_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export interface IssuerSet {
  /** Every `iss` accepted, in the order of the tenants. */
  accepted: readonly string[];
  /** The issuer whose metadata (discovery) is read: the issuer itself, or that of the first tenant. */
  discovered: string;
}

/** @throws ConfigurationError when a template lacks its tenants, or tenants come without a template */
export function issuerSet(issuer: string, tenants: readonly string[]): IssuerSet {
  const placeholders = issuer.split(TENANT_PLACEHOLDER).length - 1;
  if (placeholders === 0) {
    if (tenants.length > 0) {
      throw new ConfigurationError('ERR_CONFIG_INVALID', 'tenants', `tenants are only for an issuer with ${TENANT_PLACEHOLDER} in it`);
    }
    return { accepted: [issuer], discovered: issuer };
  }
  if (placeholders > 1) {
    throw new ConfigurationError('ERR_CONFIG_ISSUER_INVALID', 'issuer', `the issuer may contain ${TENANT_PLACEHOLDER} once`);
  }
  if (tenants.length === 0) {
    throw new ConfigurationError('ERR_CONFIG_INVALID', 'tenants',
      `an issuer with ${TENANT_PLACEHOLDER} needs the tenant ids to accept: without them every tenant of the provider would be accepted`);
  }
  const bad = tenants.find((tenant) => !TENANT_ID.test(tenant));
  if (bad !== undefined) throw new ConfigurationError('ERR_CONFIG_INVALID', 'tenants', `"${bad}" is not a tenant id`);
  const accepted = [...new Set(tenants)].map((tenant) => issuer.replace(TENANT_PLACEHOLDER, tenant));
  return { accepted, discovered: accepted[0] };
}
