/**
 * Deploy-time checks every node makes the same way: is an identity-config selected, is it valid,
 * are the node's own options valid, and does the identity have what the node needs (an audience
 * to validate, a client to request tokens). The first problem found is the node's: its requests
 * are then answered 503 with that code, and its status shows it.
 */
import { IdentityError } from '../core/errors';
import type { Identity } from '../core/identity';
import type { IdentityConfigNode } from './config-node';
import { describeError, errorStatus } from './glue';
import type { NodeAPI, NodeStatus, RuntimeNode } from './red';

export function setupProblem(
  config: IdentityConfigNode | null,
  checkOwnOptions: () => void,
  checkIdentity: (identity: Identity) => void,
): IdentityError | undefined {
  if (!config) return new IdentityError('ERR_CONFIG_MISSING', 'no identity-config is selected');
  if (config.configError) return config.configError;
  try {
    checkOwnOptions();
    if (config.identity) checkIdentity(config.identity);
  } catch (error) {
    return error instanceof IdentityError ? error : new IdentityError('ERR_CONFIG_INVALID', String(error));
  }
  return undefined;
}

/** Logs the problem (unless it is the config node's, which logs its own) and shows it. */
export function reportSetup(RED: NodeAPI, node: RuntimeNode, config: IdentityConfigNode | null,
  problem: IdentityError | undefined, show: (status: NodeStatus) => void, ready: NodeStatus): void {
  if (!problem) {
    show(ready);
    return;
  }
  if (problem !== config?.configError) node.error(describeError(RED, problem));
  show(errorStatus(problem));
}
