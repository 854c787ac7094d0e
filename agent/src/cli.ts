/**
 * `sluice-agent run | validate | status | enroll`. Exit codes: 0 ok, 1 bad config (or, with `controlPlane`
 * set, a dataset it does not know) / failed status / refused enrollment, 2 usage. `run` is fleet-managed
 * when the data dir holds fleet/identity.json (written by `enroll`), standalone otherwise.
 */
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createLogger } from '@sluice/shared/node/logger';
import type { Logger } from '@sluice/shared/node/logger';
import { ConfigError, loadConfigFile, type LoadedConfig } from './config/load-config.ts';
import { includeLinkProblems } from './config/include-links.ts';
import { checkDatasets } from './control/dataset-check.ts';
import { dataDirOf, enroll, EnrollError } from './control/enroll.ts';
import { FleetAgent } from './control/fleet-agent.ts';
import { IdentityFileError, identityFile, readIdentity } from './control/identity.ts';
import { redact } from './config/redact.ts';
import { Agent } from './runtime/agent.ts';

const USAGE = `usage:
  sluice-agent run --config agent.yaml
  sluice-agent validate --config agent.yaml [--print]
  sluice-agent status [--url http://127.0.0.1:8686] [--config agent.yaml] [--token T | env SLUICE_AGENT_TOKEN]
  sluice-agent enroll --config agent.yaml --url https://control-plane:8080 [--token sle_… | env SLUICE_ENROLL_TOKEN] [--ca ca.pem] [--name N] [--force]`;

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  let values: {
    config?: string | undefined;
    url?: string | undefined;
    token?: string | undefined;
    print?: boolean | undefined;
    ca?: string | undefined;
    name?: string | undefined;
    force?: boolean | undefined;
  };
  try {
    ({ values } = parseArgs({
      args: rest,
      options: {
        config: { type: 'string', short: 'c' },
        url: { type: 'string' },
        token: { type: 'string' },
        print: { type: 'boolean' },
        ca: { type: 'string' },
        name: { type: 'string' },
        force: { type: 'boolean' },
      },
    }));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${USAGE}\n`);
    return 2;
  }
  switch (command) {
    case 'validate':
      return await validate(values.config, values.print ?? false);
    case 'run':
      return run(values.config);
    case 'status':
      return status(values);
    case 'enroll':
      return enrollCommand(values);
    default:
      process.stderr.write(`${USAGE}\n`);
      return 2;
  }
}

function load(file: string | undefined): ReturnType<typeof loadConfigFile> | undefined {
  if (!file) {
    process.stderr.write(`--config is required\n${USAGE}\n`);
    return undefined;
  }
  try {
    return loadConfigFile(file);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${file}: invalid config\n${error.message}\n`);
      return undefined;
    }
    throw error;
  }
}

async function validate(file: string | undefined, print: boolean): Promise<number> {
  const loaded = load(file);
  if (!loaded) return 1;
  // What the include patterns match now: a link out of allowedRoots would be refused by a running agent.
  const links = includeLinkProblems(loaded.config, loaded.baseDir);
  if (links.length > 0) {
    process.stderr.write(`${file}: links outside allowedRoots\n${links.map((p) => `${p.path}: ${p.reason}`).join('\n')}\n`);
    return 1;
  }
  // With a control plane configured, the datasets are checked too; a control plane that cannot be asked
  // only warns: the config itself may be fine.
  const check = await checkDatasets(loaded.config);
  for (const warning of check?.warnings ?? []) process.stderr.write(`warning: ${warning}\n`);
  if (check && check.unknown.length > 0) {
    process.stderr.write(`${file}: unknown datasets\n${check.unknown.map((u) => `${u.path}: ${u.reason}`).join('\n')}\n`);
    return 1;
  }
  const checked = check === undefined ? '' : check.warnings.length > 0 ? ', datasets not checked' : ', datasets registered';
  process.stdout.write(`${file}: ok (${loaded.config.sources.length} sources${checked})\n`);
  if (print) process.stdout.write(`${JSON.stringify(redact(loaded.config), null, 2)}\n`);
  return 0;
}

async function enrollCommand(values: { config?: string | undefined; url?: string | undefined; token?: string | undefined; ca?: string | undefined; name?: string | undefined; force?: boolean | undefined }): Promise<number> {
  // From the environment, the token stays off the command line other users see in `ps` (provisioning scripts).
  const token = values.token ?? process.env.SLUICE_ENROLL_TOKEN;
  if (!values.url || !token) {
    process.stderr.write(`enroll needs --url and --token (or SLUICE_ENROLL_TOKEN)\n${USAGE}\n`);
    return 2;
  }
  const loaded = load(values.config);
  if (!loaded) return 1;
  try {
    const identity = await enroll({ loaded, url: values.url, token, caFile: values.ca, name: values.name, force: values.force ?? false });
    process.stdout.write(`enrolled as ${identity.agentId} with ${identity.url}; identity in ${identityFile(dataDirOf(loaded))}\nstart it with: sluice-agent run --config ${values.config}\n`);
    return 0;
  } catch (error) {
    if (error instanceof EnrollError) {
      process.stderr.write(`enroll failed: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}

/** The standalone agent, or the fleet-managed one when the data dir holds an identity. */
async function startAgent(file: string, loaded: LoadedConfig, log: Logger): Promise<{ agent: Agent; stop: () => Promise<void>; fleet: boolean } | undefined> {
  const dataDir = dataDirOf(loaded);
  if (existsSync(identityFile(dataDir))) {
    try {
      const identity = readIdentity(dataDir)!;
      const fleet = await FleetAgent.start(loaded, identity, { log });
      return { agent: fleet.agent, stop: () => fleet.stop(), fleet: true };
    } catch (error) {
      if (error instanceof ConfigError) process.stderr.write(`${file}: invalid config for a fleet-managed agent\n${error.message}\n`);
      else if (error instanceof IdentityFileError) process.stderr.write(`${error.message}\n`);
      else throw error;
      return undefined;
    }
  }
  if (loaded.config.agentId === undefined) {
    process.stderr.write(`${file}: invalid config\nagentId: is required for a standalone agent (or enroll it: sluice-agent enroll --config ${file} --url … --token …)\n`);
    return undefined;
  }
  const agent = new Agent(loaded, { log });
  await agent.start();
  return { agent, stop: () => agent.stop(), fleet: false };
}

async function run(file: string | undefined): Promise<number> {
  const loaded = load(file);
  if (!loaded) return 1;
  const log = createLogger('sluice-agent');
  const started = await startAgent(file!, loaded, log);
  if (!started) return 1;
  const { agent } = started;
  return new Promise<number>((resolve) => {
    let stopping = false;
    const shutdown = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'draining and stopping');
      started.stop().then(
        () => resolve(0),
        (error: unknown) => {
          log.error({ err: error }, 'stop failed');
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', () => shutdown('SIGTERM'));
    process.on('SIGINT', () => shutdown('SIGINT'));
    process.on('SIGHUP', () => {
      if (started.fleet) {
        log.warn('SIGHUP: this agent is fleet-managed; its pipeline comes from the control plane, local settings change at the next restart');
        return;
      }
      try {
        const next = loadConfigFile(file!);
        agent.reload(next).catch((error: unknown) => log.error({ err: error }, 'reload failed; the previous config keeps running'));
      } catch (error) {
        log.error({ problems: error instanceof ConfigError ? error.problems : undefined, err: error }, 'new config is invalid; the previous config keeps running');
      }
    });
  });
}

async function status(values: { config?: string | undefined; url?: string | undefined; token?: string | undefined }): Promise<number> {
  let url = values.url;
  let token = values.token ?? process.env.SLUICE_AGENT_TOKEN;
  if (!url && values.config) {
    const loaded = load(values.config);
    if (!loaded) return 1;
    url = `http://${loaded.config.http.listen.replace(/^0\.0\.0\.0:/, '127.0.0.1:')}`;
    token ??= loaded.config.http.token;
  }
  url ??= `http://${process.env.SLUICE_AGENT_HTTP ?? '127.0.0.1:8686'}`;
  try {
    const res = await fetch(new URL('/status', url), { headers: token ? { authorization: `Bearer ${token}` } : {}, signal: AbortSignal.timeout(5000) });
    const body = await res.text();
    process.stdout.write(`${body}\n`);
    return res.ok ? 0 : 1;
  } catch (error) {
    process.stderr.write(`cannot reach the agent at ${url}: ${(error as Error).message}\n`);
    return 1;
  }
}
