/**
 * A certificate authority of a test's own, made with the openssl CLI in a temporary folder (the same
 * commands docs/tls.md walks an operator through), and a server certificate it signs for 127.0.0.1 and
 * localhost. A second, unrelated CA lets a test show that trust in the wrong CA is not trust.
 */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TestCertificates {
  caFile: string;
  /** Signed by the CA: subjectAltName IP:127.0.0.1, DNS:localhost; serverAuth. */
  certFile: string;
  keyFile: string;
  /** A CA that signed nothing here. */
  otherCaFile: string;
  /** A key that does not belong to certFile. */
  otherKeyFile: string;
}

async function openssl(dir: string, args: string[]): Promise<void> {
  await run('openssl', args, { cwd: dir });
}

async function makeCa(dir: string, name: string): Promise<void> {
  await openssl(dir, [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '2', '-subj', `/CN=${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
}

export async function makeTestCertificates(dir: string): Promise<TestCertificates> {
  await makeCa(dir, 'sluice-test-ca');
  await makeCa(dir, 'other-ca');
  await openssl(dir, ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1']);
  await writeFile(
    path.join(dir, 'server.ext'),
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n',
  );
  await openssl(dir, ['x509', '-req', '-in', 'server.csr', '-CA', 'sluice-test-ca.pem', '-CAkey', 'sluice-test-ca.key', '-CAcreateserial', '-days', '2', '-extfile', 'server.ext', '-out', 'server.pem']);
  return {
    caFile: path.join(dir, 'sluice-test-ca.pem'),
    certFile: path.join(dir, 'server.pem'),
    keyFile: path.join(dir, 'server.key'),
    otherCaFile: path.join(dir, 'other-ca.pem'),
    otherKeyFile: path.join(dir, 'other-ca.key'),
  };
}
