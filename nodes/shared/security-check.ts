/**
 * The security check at deploy (nodes/core/flow-audit.ts) wired into Node-RED: each time the
 * runtime has started the flows (a deploy of any kind, a restart), it audits the configuration it
 * runs, logs each warning with RED.log.warn, and publishes the list on a comms topic of ours to the
 * open editors, which show it as a notification (the last block of identity-config.html). It never
 * blocks a deploy: the flows run already, and a failure of the check is one log line.
 */
import { auditFlows, type AuditWarning, type NodeRef } from '../core/flow-audit';
import type { NodeAPI, RuntimeNode } from './red';

/** The editor subscribes here. Retained, so that an editor opened later sees the running flows' warnings. */
export const SECURITY_CHECK_TOPIC = 'identity/security-check';

interface FlowsStarted {
  config?: { flows?: unknown };
}
type Listener = (event: FlowsStarted) => void;

/** The parts of the runtime API the check uses besides those of every node. */
interface CheckAPI extends NodeAPI {
  events: {
    on(event: 'flows:started', listener: Listener): void;
    removeListener(event: 'flows:started', listener: Listener): void;
  };
  comms: { publish(topic: string, data: unknown, retain?: boolean): void };
  log: NodeAPI['log'] & { warn(message: string): void; debug(message: string): void };
  util: NodeAPI['util'] & { getSetting?(node: RuntimeNode | null, name: string): unknown };
}

/**
 * Node-RED calls a module's register function once; test harnesses call it on every load. One
 * listener per event bus, so that a deploy is checked once.
 */
const listeners = new WeakMap<object, Listener>();

export function registerSecurityCheck(RED: NodeAPI): void {
  const red = RED as CheckAPI;
  const previous = listeners.get(red.events);
  if (previous) red.events.removeListener('flows:started', previous);
  const listener: Listener = (event) => check(red, event);
  listeners.set(red.events, listener);
  red.events.on('flows:started', listener);
}

function check(RED: CheckAPI, event: FlowsStarted): void {
  try {
    const flows = event?.config?.flows;
    const warnings = auditFlows(Array.isArray(flows) ? flows : [], {
      // As Node-RED resolves a ${VAR} property for the node: its flow's and the global env, then the process's.
      env: (name, node) => {
        const value = typeof RED.util.getSetting === 'function' ? RED.util.getSetting(RED.nodes.getNode(node.id), name) : process.env[name];
        return value === undefined || value === null ? undefined : String(value);
      },
    });
    const shown: Array<Omit<AuditWarning, 'silenced'>> = [];
    for (const { silenced, ...warning } of warnings) {
      if (silenced) {
        RED.log.debug(RED._('node-red-contrib-identity/identity-config:identity-config.securityCheck.silenced', { code: warning.code, node: where(RED, warning.node) }));
        continue;
      }
      RED.log.warn(RED._('node-red-contrib-identity/identity-config:identity-config.securityCheck.line',
        { code: warning.code, node: where(RED, warning.node), message: messageOf(RED, warning) }));
      shown.push(warning);
    }
    // Also when empty: it replaces the retained list, and the editor closes its notification.
    RED.comms.publish(SECURITY_CHECK_TOPIC, { warnings: shown }, true);
  } catch (error) {
    RED.log.warn(RED._('node-red-contrib-identity/identity-config:identity-config.securityCheck.failed', { reason: String((error as Error)?.message ?? error) }));
  }
}

/** `type "name" (id)`: the same label the editor's notification shows. */
function label(node: NodeRef | undefined): string {
  return node ? `${node.type}${node.name ? ` "${node.name}"` : ''} (${node.id})` : '';
}

function where(RED: NodeAPI, node: NodeRef): string {
  return node.tab === undefined ? label(node)
    : RED._('node-red-contrib-identity/identity-config:identity-config.securityCheck.onFlow', { node: label(node), flow: node.tab });
}

/** The sentence for a warning; each code has its own literal key, as the i18n test wants. */
function messageOf(RED: NodeAPI, warning: Omit<AuditWarning, 'silenced'>): string {
  switch (warning.code) {
    case 'WARN_ROUTE_UNPROTECTED':
      return RED._('node-red-contrib-identity/identity-config:identity-config.securityCheck.WARN_ROUTE_UNPROTECTED', { target: label(warning.related) });
    case 'WARN_AUDIENCE_MISSING':
      return RED._('node-red-contrib-identity/identity-config:identity-config.securityCheck.WARN_AUDIENCE_MISSING', { config: label(warning.related) });
    case 'WARN_TLS_UNVERIFIED':
      return RED._('node-red-contrib-identity/identity-config:identity-config.securityCheck.WARN_TLS_UNVERIFIED', { tls: label(warning.related) });
    case 'WARN_INSECURE_HTTP':
      return RED._('node-red-contrib-identity/identity-config:identity-config.securityCheck.WARN_INSECURE_HTTP', { property: warning.property ?? '' });
    case 'WARN_SECRET_IN_FLOW':
      return RED._('node-red-contrib-identity/identity-config:identity-config.securityCheck.WARN_SECRET_IN_FLOW',
        { property: warning.property ?? '', kind: secretText(RED, warning.secret) });
  }
}

function secretText(RED: NodeAPI, kind: AuditWarning['secret']): string {
  switch (kind) {
    case 'jwt': return RED._('node-red-contrib-identity/identity-config:identity-config.securityCheck.secret.jwt');
    case 'bearer': return RED._('node-red-contrib-identity/identity-config:identity-config.securityCheck.secret.bearer');
    case 'basic': return RED._('node-red-contrib-identity/identity-config:identity-config.securityCheck.secret.basic');
    case 'pem': return RED._('node-red-contrib-identity/identity-config:identity-config.securityCheck.secret.pem');
    case 'url': return RED._('node-red-contrib-identity/identity-config:identity-config.securityCheck.secret.url');
    default: return RED._('node-red-contrib-identity/identity-config:identity-config.securityCheck.secret.param');
  }
}
