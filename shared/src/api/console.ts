/**
 * What both places that serve the console's renderer agree on: the control plane at /console and the
 * desktop app's own scheme. The policy allows only the page's own scripts and styles (no inline code, no
 * eval), no frames, no forms posting elsewhere; `connect` says where the page may talk to: the control plane
 * that served it (`'self'`), or nowhere in the desktop app, whose main process makes the API calls.
 */
export const CONSOLE_PATH = '/console';

export function consoleContentSecurityPolicy(connect: "'self'" | "'none'"): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    `connect-src ${connect}`,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
    "object-src 'none'",
  ].join('; ');
}

/** Sent with every console file besides the CSP. */
export const CONSOLE_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
};
