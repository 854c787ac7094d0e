/**
 * A certificate authority of a test's own, made with the openssl CLI in a temporary folder (the same
 * commands docs/tls.md walks an operator through), and a server certificate it signs for 127.0.0.1 and
 * localhost, and client certificates for a server that asks for one. A second, unrelated CA lets a test show
 * that trust in the wrong CA is not trust.
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

/** `<name>.pem` and `<name>.key` for common name `cn`, signed by the test CA, with the extensions `ext`. */
async function makeSigned(dir: string, name: string, cn: string, ext: string): Promise<void> {
  await openssl(dir, ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`]);
  await writeFile(path.join(dir, `${name}.ext`), ext);
  await openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', 'sluice-test-ca.pem', '-CAkey', 'sluice-test-ca.key', '-CAcreateserial', '-days', '2', '-extfile', `${name}.ext`, '-out', `${name}.pem`]);
}

export async function makeTestCertificates(dir: string): Promise<TestCertificates> {
  await makeCa(dir, 'sluice-test-ca');
  await makeCa(dir, 'other-ca');
  await makeSigned(dir, 'server', '127.0.0.1', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n');
  return {
    caFile: path.join(dir, 'sluice-test-ca.pem'),
    certFile: path.join(dir, 'server.pem'),
    keyFile: path.join(dir, 'server.key'),
    otherCaFile: path.join(dir, 'other-ca.pem'),
    otherKeyFile: path.join(dir, 'other-ca.key'),
  };
}

/** A client certificate for common name `cn` (clientAuth), signed by the CA makeTestCertificates made in `dir`. */
export async function makeClientCertificate(dir: string, cn: string): Promise<{ certFile: string; keyFile: string }> {
  await makeSigned(dir, `client-${cn}`, cn, 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n');
  return { certFile: path.join(dir, `client-${cn}.pem`), keyFile: path.join(dir, `client-${cn}.key`) };
}
