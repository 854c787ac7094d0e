// Imported, not read from disk at run time: the bundled agent (deploy/agent) carries it inlined.
import agentPackage from '../../package.json' with { type: 'json' };

/** The agent's version as it reports it to the control plane (enroll, check-in). */
export const AGENT_VERSION: string = agentPackage.version;
