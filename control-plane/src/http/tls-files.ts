/**
 * The certificate and key `serve` listens with, read once at start. Checked here, not at the first
 * handshake: a missing file, a non-PEM file or a key that does not belong to the certificate stops the
 * process with the variable's name, instead of a server that listens and then fails every connection.
 */
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import type { TlsFiles } from '../config.ts';

export interface TlsCredentials {
  cert: Buffer;
  key: Buffer;
}

function read(file: string, variable: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw new Error(`${variable}: cannot read ${file}: ${(error as Error).message}`, { cause: error });
  }
}

export function loadTlsFiles(files: TlsFiles): TlsCredentials {
  const cert = read(files.certFile, 'SLUICE_TLS_CERT_FILE');
  const key = read(files.keyFile, 'SLUICE_TLS_KEY_FILE');
  if (!cert.includes('-----BEGIN CERTIFICATE-----')) throw new Error(`SLUICE_TLS_CERT_FILE: ${files.certFile} holds no PEM certificate`);
  if (!key.includes('PRIVATE KEY-----')) throw new Error(`SLUICE_TLS_KEY_FILE: ${files.keyFile} holds no PEM private key`);
  try {
    createSecureContext({ cert, key });
  } catch (error) {
    // OpenSSL's own words (e.g. "key values mismatch"); the key itself is never part of the message.
    throw new Error(`SLUICE_TLS_CERT_FILE / SLUICE_TLS_KEY_FILE: the key does not fit the certificate (${(error as Error).message})`, { cause: error });
  }
  return { cert, key };
}
