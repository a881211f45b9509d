/**
 * Provider presets: what an integrator knows about a provider (a Keycloak server and realm, an Okta
 * domain, an Entra tenant) turned into what identity-config needs (the issuer exactly as the
 * provider spells it in `iss`, endpoints the provider does not publish where its tokens say, and the
 * claims that carry scopes and roles).
 *
 * The editor runs this same file (the build wraps it as `resources/presets.js`), so it must stay
 * self-contained: no imports, nothing that needs Node.js.
 *
 * Sources for the URL shapes and claims: Keycloak's server administration guide (realm URLs, the
 * `/auth` path removed in Keycloak 17, `realm_access`/`resource_access`), Okta's "Authorization
 * servers" guide (org server vs `/oauth2/<id>`; `scp`, `cid`, a `groups` claim when configured),
 * Auth0's "Access tokens" and RBAC docs (issuer with a trailing slash, `permissions`), the Microsoft
 * identity platform's access token reference (v1 `sts.windows.net/<tid>/`, v2
 * `login.microsoftonline.com/<tid>/v2.0`, `scp`, `roles`), IBM API Connect's native OAuth provider
 * (`<gateway>/<org>/<catalog>/<provider>/oauth2/token`).
 */

export const PRESET_IDS = ['generic', 'keycloak', 'okta', 'auth0', 'entra', 'apic'] as const;
export type PresetId = typeof PRESET_IDS[number];

/** What the editor asks for; which fields a preset reads is in `PRESET_FIELDS`. */
export interface PresetInput {
  /** Keycloak server URL, Okta or Auth0 domain, API Connect gateway URL. */
  baseUrl?: string;
  /** Keycloak realm, Okta authorization server id, Entra tenant id (or `organizations`), API Connect provider path. */
  tenant?: string;
  /** Keycloak up to version 16 (and later ones started with `--http-relative-path=/auth`). */
  legacyAuth?: boolean;
  /** The Entra access token version the API accepts (`accessTokenAcceptedVersion` of its app). */
  tokenVersion?: string;
}

export interface PresetSettings {
  issuer: string;
  /** Space-separated claim paths read for scopes; empty reads every known spelling. */
  scopeClaims: string;
  /** Space-separated claim paths read for roles; empty reads every known spelling. */
  roleClaims: string;
  /** Endpoints the provider's metadata cannot be found for at the issuer; empty means discovered. */
  jwksUri: string;
  tokenEndpoint: string;
  authorizationEndpoint: string;
}

/** A preset's input that is missing or wrong: the field, and a catalog key below `identity-config.preset.problem`. */
export interface PresetProblem {
  field: keyof PresetInput;
  problem: 'required' | 'url' | 'name' | 'tenantId';
}

export const PRESET_FIELDS: Readonly<Record<PresetId, readonly (keyof PresetInput)[]>> = {
  generic: [],
  keycloak: ['baseUrl', 'tenant', 'legacyAuth'],
  okta: ['baseUrl', 'tenant'],
  auth0: ['baseUrl'],
  entra: ['tenant', 'tokenVersion'],
  apic: ['baseUrl', 'tenant'],
};

/**
 * Where each provider puts scopes and roles. `{clientId}` stands for identity-config's client id.
 * Reading only the provider's own claims keeps a claim that means something else there (Okta's
 * `groups` in a Keycloak token, say) from granting a role.
 */
export const PRESET_CLAIMS: Readonly<Record<PresetId, { scopeClaims: string; roleClaims: string }>> = {
  generic: { scopeClaims: '', roleClaims: '' },
  keycloak: { scopeClaims: 'scope', roleClaims: 'realm_access.roles resource_access.{clientId}.roles' },
  okta: { scopeClaims: 'scp', roleClaims: 'groups' },
  auth0: { scopeClaims: 'scope', roleClaims: 'permissions' },
  entra: { scopeClaims: 'scp', roleClaims: 'roles' },
  apic: { scopeClaims: 'scope', roleClaims: 'roles' },
};

const ENTRA_LOGIN = 'https://login.microsoftonline.com';
const TENANT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// A realm, authorization server id or path segment: printable, no slash, query or fragment.
const NAME = /^[^\s/?#%\\]+$/;

export function isPresetId(value: unknown): value is PresetId {
  return typeof value === 'string' && (PRESET_IDS as readonly string[]).includes(value);
}

/** The settings a preset gives for these inputs, or the first input that keeps it from giving them. */
export function presetSettings(id: Exclude<PresetId, 'generic'>, input: PresetInput): PresetSettings | PresetProblem {
  const claims = PRESET_CLAIMS[id];
  const settings = (issuer: string, endpoints: Partial<PresetSettings> = {}): PresetSettings => ({
    issuer, jwksUri: '', tokenEndpoint: '', authorizationEndpoint: '', ...claims, ...endpoints,
  });
  const tenant = (input.tenant ?? '').trim();
  switch (id) {
    case 'keycloak': {
      const base = origin(input.baseUrl, true);
      if (typeof base !== 'string') return base;
      if (!NAME.test(tenant)) return { field: 'tenant', problem: tenant ? 'name' : 'required' };
      const withAuth = input.legacyAuth === true && !base.endsWith('/auth') ? `${base}/auth` : base;
      return settings(`${withAuth}/realms/${encodeURIComponent(tenant)}`);
    }
    case 'okta': {
      const base = origin(input.baseUrl, false);
      if (typeof base !== 'string') return base;
      if (tenant && !NAME.test(tenant)) return { field: 'tenant', problem: 'name' };
      // Without an authorization server id the org server: its access tokens are for Okta's own APIs.
      return settings(tenant ? `${base}/oauth2/${encodeURIComponent(tenant)}` : base);
    }
    case 'auth0': {
      const base = origin(input.baseUrl, false);
      if (typeof base !== 'string') return base;
      return settings(`${base}/`); // Auth0's iss ends with a slash
    }
    case 'entra': {
      // `organizations` (or `common`): a multi-tenant app, whose issuer is a template over the tenants listed.
      const multiTenant = /^(organizations|common)$/i.test(tenant);
      if (!TENANT_ID.test(tenant) && !multiTenant) return { field: 'tenant', problem: tenant ? 'tenantId' : 'required' };
      const id = multiTenant ? '{tenantid}' : tenant.toLowerCase();
      const keysOf = multiTenant ? 'common' : id;
      const endpointsOf = multiTenant ? 'organizations' : id;
      if (input.tokenVersion === 'v1') {
        // v1 tokens name sts.windows.net, which publishes no metadata of its own: the endpoints are
        // the tenant's v1.0 ones, as Microsoft says to validate v1.0 tokens with.
        return settings(`https://sts.windows.net/${id}/`, {
          jwksUri: `${ENTRA_LOGIN}/${keysOf}/discovery/keys`,
          tokenEndpoint: `${ENTRA_LOGIN}/${endpointsOf}/oauth2/v2.0/token`,
          authorizationEndpoint: `${ENTRA_LOGIN}/${endpointsOf}/oauth2/v2.0/authorize`,
        });
      }
      return settings(`${ENTRA_LOGIN}/${id}/v2.0`);
    }
    case 'apic': {
      const base = origin(input.baseUrl, true);
      if (typeof base !== 'string') return base;
      const segments = tenant.split('/').filter((segment) => segment.length > 0);
      if (segments.length === 0) return { field: 'tenant', problem: 'required' };
      if (!segments.every((segment) => NAME.test(segment))) return { field: 'tenant', problem: 'name' };
      const issuer = `${base}/${segments.map(encodeURIComponent).join('/')}`;
      return settings(issuer, { tokenEndpoint: `${issuer}/oauth2/token`, authorizationEndpoint: `${issuer}/oauth2/authorize` });
    }
    default: // an id from an editor of another version
      return { field: 'baseUrl', problem: 'required' };
  }
}

/**
 * An http(s) origin, with its path when `keepPath` (Keycloak behind a reverse proxy path), without a
 * trailing slash. A bare domain ("dev-123.okta.com") means https.
 */
function origin(value: string | undefined, keepPath: boolean): string | PresetProblem {
  const text = (value ?? '').trim();
  if (!text) return { field: 'baseUrl', problem: 'required' };
  let url: URL;
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `https://${text}`);
  } catch {
    return { field: 'baseUrl', problem: 'url' };
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.username || url.password || url.search || url.hash) {
    return { field: 'baseUrl', problem: 'url' };
  }
  const path = keepPath ? url.pathname.replace(/\/+$/, '') : '';
  return `${url.protocol}//${url.host}${path}`;
}
