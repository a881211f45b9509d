/**
 * The security check at deploy: reads the flow configuration Node-RED runs (the array of node
 * configs, as `flows.json` and an export hold them) and lists what looks unsafe. It only reads:
 * nothing here blocks a deploy, and no warning carries a value it found, only where it was.
 *
 * - `WARN_ROUTE_UNPROTECTED`: an `http in` route reaches a node that works on the request (any type
 *   but those of `PASSING`) before a validate-token (RFC 6750 §2: the resource server checks the
 *   token before it serves).
 * - `WARN_AUDIENCE_MISSING`: a validate-token whose identity-config names no audience (RFC 9068 §4,
 *   RFC 8725 §3.9), which the node refuses at run time with `ERR_CONFIG_AUDIENCE_MISSING`.
 * - `WARN_TLS_UNVERIFIED`: an identity-config whose tls-config does not verify the server
 *   certificate, so anyone on the path can pose as the provider and hand out its keys.
 * - `WARN_INSECURE_HTTP`: an identity-config that allows plain http and uses it to another machine.
 * - `WARN_SECRET_IN_FLOW`: what looks like a token, a password or a private key in a property that
 *   is not a credential, and so is in every export, copy and backup of the flows (RFC 9700 §4.3).
 *
 * A node's Description (`info`, which Node-RED's editor offers on every node and every export
 * keeps) silences the warnings that name the node: `identity: ignore WARN_…` (one or more codes),
 * and for routes `identity: public route`.
 */
import { TOKEN_EXCHANGE_GRANT } from './tokens';
import { isLoopbackHost } from './urls';

export const AUDIT_CODES = [
  'WARN_ROUTE_UNPROTECTED', 'WARN_AUDIENCE_MISSING', 'WARN_TLS_UNVERIFIED', 'WARN_INSECURE_HTTP', 'WARN_SECRET_IN_FLOW',
] as const;
export type AuditCode = typeof AUDIT_CODES[number];

/** What a secret found in a property looks like. */
export type SecretKind = 'jwt' | 'bearer' | 'basic' | 'param' | 'pem' | 'url';

/** A node as a warning names it: never with a property value. */
export interface NodeRef {
  id: string;
  type: string;
  /** The node's name (a tab's label), when it has one. */
  name?: string;
  /** The label of the flow tab (or the name of the subflow) the node is on; none for a global config node. */
  tab?: string;
}

export interface AuditWarning {
  code: AuditCode;
  /** The node to fix, and the one whose Description silences the warning. */
  node: NodeRef;
  /**
   * The other node involved: for a route, the first node it reaches without a validate-token; for a
   * missing audience, the identity-config; for unverified TLS, the tls-config.
   */
  related?: NodeRef;
  /** The property holding a secret or a plain-http URL, as a path (`rules[0].to`); never its value. */
  property?: string;
  secret?: SecretKind;
  /** The node's Description carries a marker for this code. */
  silenced: boolean;
}

export interface AuditOptions {
  /**
   * The value of the environment variable `name` as Node-RED gives it to `node` for a property that
   * is exactly `${name}`; undefined when it is not set (the property then keeps `${name}`, as in
   * Node-RED). Without it, such properties are taken as written.
   */
  env?: (name: string, node: FlowNode) => string | undefined;
}

/** A node config of the flows: what every node has, and the rest as Node-RED stores it. */
export interface FlowNode {
  id: string;
  type: string;
  [property: string]: unknown;
}

/**
 * The node types a request may pass before a validate-token without being served: they answer it
 * (`http response`), show it (`debug`), are no node on a wire (`comment`, `catch`, `status`,
 * `complete`), or only carry it on (`junction`, `link in`; `link out` and `link call` are followed
 * to the nodes they link to, and subflows are entered). get-token and refresh-token pass it on
 * too, and where the provider has just authenticated the caller (see `authenticatesCaller`) their
 * first output counts as protected, like validate-token's. resource-metadata answers the public
 * document RFC 9728 §3 says clients fetch before they hold any token.
 */
export const PASSING: readonly string[] = [
  'http response', 'debug', 'comment', 'catch', 'status', 'complete', 'junction', 'link in', 'get-token', 'refresh-token',
  'resource-metadata',
];

/** The audit of one flow configuration: every warning, silenced ones included, in the order of the rules. */
export function auditFlows(flows: readonly unknown[], options: AuditOptions = {}): AuditWarning[] {
  const index = new FlowIndex(flows, options);
  const found = [
    ...unprotectedRoutes(index),
    ...missingAudiences(index),
    ...providerTransport(index),
    ...secretsInFlows(index),
  ];
  return found.map((warning) => ({ ...warning, silenced: silencedCodes(index.byId.get(warning.node.id)).has(warning.code) }));
}

type Finding = Omit<AuditWarning, 'silenced'>;

/** Lookups over the configuration, and which nodes Node-RED runs (not disabled, nor on a disabled tab). */
class FlowIndex {
  readonly nodes: FlowNode[];
  readonly byId = new Map<string, FlowNode>();
  private readonly disabledTabs = new Set<string>();
  private readonly containers = new Map<string, string>();

  constructor(flows: readonly unknown[], private readonly options: AuditOptions) {
    this.nodes = flows.filter((node): node is FlowNode => typeof node === 'object' && node !== null
      && typeof (node as FlowNode).id === 'string' && typeof (node as FlowNode).type === 'string');
    for (const node of this.nodes) {
      this.byId.set(node.id, node);
      if (node.type === 'tab' && node.disabled === true) this.disabledTabs.add(node.id);
      if (node.type === 'tab' || node.type === 'subflow') this.containers.set(node.id, text(node.type === 'tab' ? node.label : node.name));
    }
  }

  runs(node: FlowNode): boolean {
    return node.d !== true && !(typeof node.z === 'string' && this.disabledTabs.has(node.z));
  }

  ref(node: FlowNode): NodeRef {
    // A name that holds a secret is left out: the warning about that secret must not repeat it.
    const name = withoutSecret(text(node.type === 'tab' ? node.label : node.name));
    const container = typeof node.z === 'string' ? this.containers.get(node.z) : undefined;
    const tab = container === undefined ? undefined : withoutSecret(container);
    return { id: node.id, type: node.type, ...(name ? { name } : {}), ...(tab !== undefined ? { tab } : {}) };
  }

  /** A property's value with a whole-value `${VAR}` resolved as Node-RED resolves it. */
  value(node: FlowNode, property: string): string {
    const value = text(node[property]);
    const envVar = /^\$\{(\S+)\}$/.exec(value);
    const resolved = envVar && this.options.env ? this.options.env(envVar[1], node) : undefined;
    return resolved === undefined ? value : String(resolved);
  }

  configOf(id: unknown, type: string): FlowNode | undefined {
    const node = typeof id === 'string' ? this.byId.get(id) : undefined;
    return node?.type === type ? node : undefined;
  }
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

// ---- routes -------------------------------------------------------------------------------------

/** Where a walk stands: a node, and the subflow instances and link calls it went through. */
interface Place {
  id: string;
  /** Ids of the subflow instances entered and link calls made, innermost last. */
  frames: readonly string[];
}

/** Deeper nesting than this only comes from a broken configuration; the walk stops there. */
const MAX_FRAMES = 32;

function unprotectedRoutes(index: FlowIndex): Finding[] {
  const found: Finding[] = [];
  for (const route of index.nodes) {
    if (route.type !== 'http in' || !index.runs(route)) continue;
    const reached = firstUnprotected(index, route);
    if (reached) found.push({ code: 'WARN_ROUTE_UNPROTECTED', node: index.ref(route), related: index.ref(reached) });
  }
  return found;
}

/**
 * Walks the wires from an `http in`, breadth first, and returns the nearest node that would work on
 * a request no validate-token has checked. A disabled node ends a path, as it drops messages.
 */
/** The most places (node and link-call stack) the walk from one route visits. */
const MAX_PLACES = 20_000;

function firstUnprotected(index: FlowIndex, route: FlowNode): FlowNode | undefined {
  const queue: Place[] = [];
  const seen = new Set<string>();
  const go = (ids: unknown, frames: readonly string[]): void => {
    if (!Array.isArray(ids)) return;
    for (const id of ids) {
      const key = `${frames.join('/')}|${String(id)}`;
      // Link calls into one link in double the places per level: the walk has a budget, so that
      // no flow can make the check (which runs at every start) exhaust the runtime's memory.
      if (typeof id !== 'string' || seen.has(key) || seen.size >= MAX_PLACES) continue;
      seen.add(key);
      queue.push({ id, frames });
    }
  };
  const follow = (node: FlowNode, frames: readonly string[], fromPort = 0): void => {
    const wires = Array.isArray(node.wires) ? node.wires : [];
    for (let port = fromPort; port < wires.length; port += 1) {
      go(wires[port], frames);
      leaveSubflow(index, node, port, frames, go);
    }
  };

  follow(route, []);
  for (let next = 0; next < queue.length; next += 1) {
    const { id, frames } = queue[next];
    const node = index.byId.get(id);
    if (!node || !index.runs(node)) continue;
    if (node.type === 'validate-token') continue;
    if (frames.length >= MAX_FRAMES) continue;
    if (node.type === 'link out') {
      if (node.mode === 'return') returnFromLinkCall(index, frames, follow);
      else go(node.links, frames);
    } else if (node.type === 'link call') {
      // A dynamic link call's target is chosen by each message: the check cannot follow it.
      if (node.linkType === 'dynamic') return node;
      go(node.links, [...frames, node.id]);
    } else if (node.type.startsWith('subflow:')) {
      if (!enterSubflow(index, node, frames, go)) return node;
    } else if (node.type === 'get-token' || node.type === 'refresh-token') {
      follow(node, frames, authenticatesCaller(node) ? 1 : 0);
    } else if (PASSING.includes(node.type)) {
      follow(node, frames);
    } else {
      return node;
    }
  }
  return undefined;
}

/**
 * Whether a token node's first output carries only requests whose caller the provider has just
 * authenticated: get-token with the password grant or token exchange (the caller's password or
 * subject token), refresh-token trading a refresh token taken from the message. Not so the client
 * credentials grant (the flow's own client), a session (the flow's own tokens), or the
 * authorization code grant, whose same node also sends anyone to the login page.
 */
function authenticatesCaller(node: FlowNode): boolean {
  if (node.type === 'get-token') return node.grantType === 'password' || node.grantType === TOKEN_EXCHANGE_GRANT;
  return node.session !== true && (text(node.refreshTokenType) || 'msg') === 'msg';
}

interface SubflowPort {
  wires?: Array<{ id?: unknown; port?: unknown }>;
}

/** Enters a subflow instance at its input; false when its definition is missing. */
function enterSubflow(index: FlowIndex, instance: FlowNode, frames: readonly string[], go: (ids: unknown, frames: readonly string[]) => void): boolean {
  const definition = index.configOf(instance.type.slice('subflow:'.length), 'subflow');
  if (!definition) return false;
  const inputs = Array.isArray(definition.in) ? (definition.in as SubflowPort[]) : [];
  go(inputs[0]?.wires?.map((wire) => wire.id), [...frames, instance.id]);
  // An input wired straight to an output.
  leaveSubflowFrom(definition, instance, definition.id, 0, frames, go);
  return true;
}

/** After a node inside a subflow: its port may be wired to an output of the instance being walked. */
function leaveSubflow(index: FlowIndex, node: FlowNode, port: number, frames: readonly string[],
  go: (ids: unknown, frames: readonly string[]) => void): void {
  const instance = index.byId.get(frames[frames.length - 1]);
  const definition = index.configOf(node.z, 'subflow');
  if (!instance || !definition || instance.type !== `subflow:${definition.id}`) return;
  leaveSubflowFrom(definition, instance, node.id, port, frames.slice(0, -1), go);
}

function leaveSubflowFrom(definition: FlowNode, instance: FlowNode, from: string, port: number, outer: readonly string[],
  go: (ids: unknown, frames: readonly string[]) => void): void {
  const outputs = Array.isArray(definition.out) ? (definition.out as SubflowPort[]) : [];
  const wires = Array.isArray(instance.wires) ? instance.wires : [];
  outputs.forEach((output, i) => {
    if (output.wires?.some((wire) => wire.id === from && Number(wire.port ?? 0) === port)) go(wires[i], outer);
  });
}

/** A `link out` in return mode continues after the link call that led here. */
function returnFromLinkCall(index: FlowIndex, frames: readonly string[], follow: (node: FlowNode, frames: readonly string[]) => void): void {
  const call = index.byId.get(frames[frames.length - 1]);
  if (call?.type === 'link call') follow(call, frames.slice(0, -1));
}

// ---- identity-configs ---------------------------------------------------------------------------

const IDENTITY_PROPERTIES = ['identity', 'identity2', 'identity3'];

function missingAudiences(index: FlowIndex): Finding[] {
  const found: Finding[] = [];
  for (const node of index.nodes) {
    if (node.type !== 'validate-token' || !index.runs(node)) continue;
    for (const property of IDENTITY_PROPERTIES) {
      const config = index.configOf(node[property], 'identity-config');
      if (config && index.value(config, 'audience').trim() === '') {
        found.push({ code: 'WARN_AUDIENCE_MISSING', node: index.ref(node), related: index.ref(config) });
      }
    }
  }
  return found;
}

/** The identity-config properties that hold a URL of the provider. */
const PROVIDER_URLS = ['issuer', 'jwksUri', 'tokenEndpoint', 'authorizationEndpoint'];

function providerTransport(index: FlowIndex): Finding[] {
  const found: Finding[] = [];
  for (const config of index.nodes) {
    if (config.type !== 'identity-config' || !index.runs(config)) continue;
    const tls = index.configOf(config.tls, 'tls-config');
    if (tls && (tls.verifyservercert === false || tls.verifyservercert === 'false')) {
      found.push({ code: 'WARN_TLS_UNVERIFIED', node: index.ref(config), related: index.ref(tls) });
    }
    // Without allowInsecureHttp, such a URL is refused at run time (ERR_CONFIG_INSECURE_HTTP).
    if (config.allowInsecureHttp !== true) continue;
    for (const property of PROVIDER_URLS) {
      if (isPlainHttpToAnotherHost(index.value(config, property))) {
        found.push({ code: 'WARN_INSECURE_HTTP', node: index.ref(config), property });
      }
    }
  }
  return found;
}

function isPlainHttpToAnotherHost(value: string): boolean {
  try {
    const url = new URL(value.trim());
    return url.protocol === 'http:' && !isLoopbackHost(url.hostname);
  } catch {
    return false; // empty, or not a URL: the runtime refuses it on its own
  }
}

// ---- secrets ------------------------------------------------------------------------------------

/** A value that stands for a secret instead of being one: `${VAR}`, `{{mustache}}`, `<placeholder>`, `$VAR`, `***`, `…`. */
const PLACEHOLDER = /^(?:\$\{[^}]*\}|\{\{[^}]*\}\}|<[^>]*>|\$[A-Za-z_]\w*|\*+|…|\.\.\.)$/;
const SECRET_KEYS = /^(?:client_secret|password)$/i;
/** How deep into a property's objects and arrays secrets are looked for. */
const MAX_DEPTH = 16;

/** The detectors, most specific first; each returns whether the text holds such a secret. */
const DETECTORS: ReadonlyArray<[SecretKind, (value: string) => boolean]> = [
  ['pem', (value) => /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----[\s\S]*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----/.test(value)],
  // A JWS or JWE: a base64url JSON header ("eyJ" is `{"`) and at least two more parts.
  ['jwt', (value) => /(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/.test(value)],
  // RFC 6750 §2.1's b64token, long and with a digit, as issued tokens are (not "Bearer <token>").
  ['bearer', (value) => /\bBearer[ \t]+(?=[A-Za-z0-9._~+/-]*\d)[A-Za-z0-9._~+/-]{16,}=*/i.test(value)],
  ['basic', (value) => [...value.matchAll(/\bBasic[ \t]+([A-Za-z0-9+/]{4,}={0,2})(?![A-Za-z0-9+/=])/gi)].some((match) => isUserPassword(match[1]))],
  ['param', (value) => [...value.matchAll(/(?:^|[?&;\s"'{,])(?:client_secret|password)=([^&\s"';,]+)/gi),
    ...value.matchAll(/"(?:client_secret|password)"\s*:\s*"([^"]+)"/gi)].some((match) => !PLACEHOLDER.test(match[1]))],
  // The lookbehind starts a scheme only where one can start, which keeps the scan linear.
  ['url', (value) => [...value.matchAll(/(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]*:\/\/[^\s/?#@:"'<>]+:([^\s/?#@"'<>]+)@/g)]
    .some((match) => !PLACEHOLDER.test(match[1]))],
];

/** RFC 7617: base64 of `user-id:password`. */
function isUserPassword(base64: string): boolean {
  return /^[\x21-\x39\x3b-\x7e]+:[\x20-\x7e]+$/.test(Buffer.from(base64, 'base64').toString('latin1'));
}

/** The text, or '' when a detector finds a secret in it. */
function withoutSecret(value: string): string {
  return DETECTORS.some(([, holds]) => holds(value)) ? '' : value;
}

function secretsInFlows(index: FlowIndex): Finding[] {
  const found: Finding[] = [];
  for (const node of index.nodes) {
    for (const [key, value] of Object.entries(node)) {
      if (key === 'credentials') continue; // Node-RED keeps these apart, encrypted
      for (const { property, secret } of secretsIn(value, key, SECRET_KEYS.test(key), 0)) {
        found.push({ code: 'WARN_SECRET_IN_FLOW', node: index.ref(node), property, secret });
      }
    }
  }
  return found;
}

/** The secrets in a value and what it holds, each with its path; a named secret (`password`) counts as such. */
function secretsIn(value: unknown, path: string, named: boolean, depth: number): Array<{ property: string; secret: SecretKind }> {
  if (typeof value === 'string') {
    const secret = DETECTORS.find(([, detects]) => detects(value))?.[0]
      ?? (named && value.trim() !== '' && !PLACEHOLDER.test(value.trim()) ? 'param' : undefined);
    return secret ? [{ property: path, secret }] : [];
  }
  if (typeof value !== 'object' || value === null || depth >= MAX_DEPTH) return [];
  if (Array.isArray(value)) return value.flatMap((item, i) => secretsIn(item, `${path}[${i}]`, false, depth + 1));
  return Object.entries(value).flatMap(([key, item]) => secretsIn(item, `${path}.${key}`, SECRET_KEYS.test(key), depth + 1));
}

// ---- silencing ----------------------------------------------------------------------------------

/** The codes a node's Description silences. */
function silencedCodes(node: FlowNode | undefined): Set<string> {
  const info = text(node?.info);
  const codes = new Set<string>();
  if (/\bidentity:[ \t]*public[ \t]+route\b/i.test(info)) codes.add('WARN_ROUTE_UNPROTECTED');
  for (const marker of info.matchAll(/\bidentity:[ \t]*ignore[ \t]+(WARN_[A-Z_]+(?:[ \t]*,?[ \t]*WARN_[A-Z_]+)*)/gi)) {
    for (const code of marker[1].toUpperCase().match(/WARN_[A-Z_]+/g) ?? []) codes.add(code);
  }
  return codes;
}
