/**
 * The part of Node-RED's runtime API that our nodes use, typed here so the package needs no
 * type package that lags behind Node-RED releases.
 */

export interface NodeStatus {
  fill?: 'red' | 'green' | 'yellow' | 'blue' | 'grey';
  shape?: 'ring' | 'dot';
  text?: string;
}

export interface NodeMessage {
  _msgid?: string;
  payload?: unknown;
  [property: string]: unknown;
}

export type SendFunction = (msg: NodeMessage | (NodeMessage | null)[]) => void;
export type DoneFunction = (error?: Error) => void;

export interface NodeDefinition {
  id: string;
  type: string;
  name?: string;
  z?: string;
  wires?: string[][];
}

/** A context scope (flow or global) of a node; `store` picks one of the configured context stores. */
export interface ContextScope {
  get(key: string, store: string | undefined, callback: (error: Error | null, value: unknown) => void): void;
  set(key: string, value: unknown, store: string | undefined, callback: (error: Error | null) => void): void;
}

export interface RuntimeNode {
  id: string;
  type: string;
  name?: string;
  wires?: string[][];
  credentials?: Record<string, string | undefined>;
  on(event: 'input', listener: (msg: NodeMessage, send: SendFunction, done: DoneFunction) => void): void;
  on(event: 'close', listener: (removed: boolean, done: () => void) => void): void;
  status(status: NodeStatus | Record<string, never>): void;
  log(message: string): void;
  warn(message: string): void;
  error(message: string | Error, msg?: NodeMessage): void;
  context(): { flow: ContextScope; global: ContextScope };
}

export interface AdminRequest {
  query: Record<string, unknown>;
}

export interface AdminResponse {
  status(code: number): AdminResponse;
  json(body: unknown): void;
}

/** What Node-RED's audit log reads from a request: the route and the caller's address. */
export interface AuditRequest {
  path?: string;
  ip?: string;
}

export interface NodeAPI {
  /** Node-RED's log; audit events are written when the logging settings enable `audit`. */
  log: { audit(event: Record<string, unknown>, req?: AuditRequest): void };
  nodes: {
    createNode(node: RuntimeNode, definition: NodeDefinition): void;
    getNode(id: string): RuntimeNode | null;
    registerType<D extends NodeDefinition, N extends RuntimeNode>(
      type: string,
      constructor: (this: N, definition: D) => void,
      options?: { credentials?: Record<string, { type: 'text' | 'password' }> },
    ): void;
  };
  _(key: string, substitutions?: Record<string, string | number>): string;
  /** The editor's admin API (an Express app) and its permission check. */
  httpAdmin: {
    get(path: string, ...handlers: Array<(req: AdminRequest, res: AdminResponse, next: () => void) => void>): void;
  };
  auth: { needsPermission(permission: string): (req: AdminRequest, res: AdminResponse, next: () => void) => void };
  util: {
    evaluateNodeProperty(
      value: string, type: string, node: RuntimeNode, msg: NodeMessage,
      callback: (error: Error | null, result: unknown) => void,
    ): void;
  };
}
