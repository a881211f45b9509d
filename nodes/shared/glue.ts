/**
 * Glue shared by every node: translating an error code through the catalog, and the status a
 * node shows for it. Error texts live once, in identity-config's catalog, since the config node
 * owns the provider; other nodes reach them by their full namespace.
 */
import { IdentityError } from '../core/errors';
import type { ContextScope, NodeAPI, NodeMessage, NodeStatus, RuntimeNode } from './red';

const ERROR_NAMESPACE = 'node-red-contrib-identity/identity-config:identity-config.errors.';

/**
 * A log line for an error: the translated sentence for its code, with the core's message as detail.
 * Core messages name URLs and options, never tokens or secrets.
 */
export function describeError(RED: NodeAPI, error: unknown): string {
  if (!(error instanceof IdentityError)) return String((error as Error)?.message ?? error);
  const key = ERROR_NAMESPACE + error.code;
  const text = RED._(key, { detail: error.message });
  // A missing entry comes back as the key, with or without its namespace.
  const sentence = key.endsWith(text) ? error.message : text;
  const causeCode = (error.cause as { code?: unknown } | undefined)?.code;
  return `${error.code}: ${sentence}${typeof causeCode === 'string' ? ` (${causeCode})` : ''}`;
}

/** A red ring with the code: what the editor shows while the node cannot work. */
export function errorStatus(error: IdentityError): NodeStatus {
  return { fill: 'red', shape: 'ring', text: error.code };
}

/**
 * Node-RED ignores the promise an input handler returns, and a rejection would take the process
 * down; so the async work runs here and any failure reaches `done`.
 */
export function runAsync(work: () => Promise<void>, done: (error?: Error) => void): void {
  work().then(() => done(), (error: unknown) => done(error instanceof Error ? error : new Error(String(error))));
}

/** A typedInput's value for this message (msg, flow, global, env, json, jsonata, …). */
export function evaluateProperty(RED: NodeAPI, node: RuntimeNode, value: string, type: string, msg: NodeMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    RED.util.evaluateNodeProperty(value, type, node, msg, (error, result) => (error ? reject(error) : resolve(result)));
  });
}

/** Reads a context value from the named store ('' for the default store). */
export function contextGet(scope: ContextScope, key: string, store: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    scope.get(key, store || undefined, (error, value) => (error ? reject(error) : resolve(value)));
  });
}

/** Writes a context value to the named store ('' for the default store); undefined deletes it. */
export function contextSet(scope: ContextScope, key: string, value: unknown, store: string): Promise<void> {
  return new Promise((resolve, reject) => {
    scope.set(key, value, store || undefined, (error) => (error ? reject(error) : resolve()));
  });
}

/**
 * Removes a secret the HTTP client sent (a password, a refresh or subject token) from the request
 * body that `http in` keeps on `msg.req`, so that no later node, Catch or debug view sees it.
 */
export function removeFromRequestBody(msg: NodeMessage, name: string): void {
  const body = (msg.req as { body?: unknown } | undefined)?.body;
  if (body && typeof body === 'object') delete (body as Record<string, unknown>)[name];
}
