/**
 * The agent's `http.listen` value (`host:port`). Without a token the agent's HTTP surface is open, which is
 * only acceptable where nothing but this machine can reach it: the loopback interface.
 */
import { isIP } from 'node:net';

/** `127.0.0.1:8686` → host and port; `[::1]:8686` and `::1:8686` both give `::1`; an empty host is 127.0.0.1. */
export function parseListen(hostPort: string): { host: string; port: number } {
  const at = hostPort.lastIndexOf(':');
  const host = hostPort.slice(0, at).replace(/^\[(.*)\]$/, '$1') || '127.0.0.1';
  return { host, port: Number(hostPort.slice(at + 1)) };
}

/**
 * 127.0.0.0/8 and ::1 (also as ::ffff:127.x.y.z). Names such as `localhost` are not accepted: what they
 * resolve to is up to the machine's resolver, not to the config.
 */
export function isLoopbackHost(host: string): boolean {
  const v4 = host.toLowerCase().replace(/^::ffff:/, '');
  if (isIP(v4) === 4) return v4.startsWith('127.');
  return isIP(host) === 6 && /^(0{0,4}:){2,7}0{0,3}1$|^::1$/i.test(host);
}
