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
}

export interface NodeAPI {
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
}
