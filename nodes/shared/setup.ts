/**
 * Deploy-time checks every node makes the same way: is an identity-config selected, is it valid,
 * are the node's own options valid, and does the identity have what the node needs (an audience
 * to validate, a client to request tokens). The first problem found is the node's: its requests
 * are then answered 503 with that code, and its status shows it.
 */
import { ConfigurationError, IdentityError } from '../core/errors';
import type { Identity } from '../core/identity';
import type { IdentityConfigNode } from './config-node';
import { describeError, errorStatus } from './glue';
import type { NodeAPI, NodeDefinition, NodeStatus, RuntimeNode } from './red';

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

/** The properties naming further providers of a node (validate-token, get-token), in order. */
export const MORE_IDENTITIES = ['identity2', 'identity3'] as const;

export interface MoreIdentity {
  option: typeof MORE_IDENTITIES[number];
  /** null when the selected config node does not exist (or is disabled). */
  config: IdentityConfigNode | null;
}

/** The further identity-configs a node selects, in order; unset ones are left out. */
export function moreIdentityConfigs(RED: NodeAPI, definition: NodeDefinition & Partial<Record<MoreIdentity['option'], string>>): MoreIdentity[] {
  return MORE_IDENTITIES.filter((option) => definition[option])
    .map((option) => ({ option, config: RED.nodes.getNode(definition[option] as string) as IdentityConfigNode | null }));
}

/** A further provider must exist, be valid and have what the node needs, like the first. */
export function checkMoreIdentities(more: MoreIdentity[], checkIdentity: (identity: Identity) => void): void {
  for (const { option, config } of more) {
    if (!config) throw new ConfigurationError('ERR_CONFIG_MISSING', option, `the identity-config selected as ${option} does not exist`);
    if (config.configError) throw config.configError;
    if (config.identity) checkIdentity(config.identity);
  }
}

/** Two providers with one issuer would leave the choice between them to chance. */
export function checkDistinctIssuers(first: Identity, more: MoreIdentity[]): void {
  const seen = new Set([first.settings.issuer]);
  for (const { option, config } of more) {
    const issuer = config?.identity?.settings.issuer;
    if (issuer === undefined) continue;
    if (seen.has(issuer)) throw new ConfigurationError('ERR_CONFIG_INVALID', option, `two of the selected identity-configs have the issuer ${issuer}`);
    seen.add(issuer);
  }
}
