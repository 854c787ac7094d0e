/**
 * The Python with pyarrow the compaction tests and `npm run bench:lake` read Parquet back with (an
 * independent reader). `scripts/lib/deps.sh` (ensure_lake_python) creates it as `.stack/lake-py`;
 * SLUICE_LAKE_PYTHON overrides it.
 */
import { access } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

export async function lakePython(): Promise<string> {
  const configured = process.env.SLUICE_LAKE_PYTHON;
  if (configured) return configured;
  const venv = fileURLToPath(new URL('../../../../.stack/lake-py/bin/python', import.meta.url));
  try {
    await access(venv);
    return venv;
  } catch {
    throw new Error(`no Python with pyarrow at ${venv}: run scripts/sluice.sh deps (ensure_lake_python) or set SLUICE_LAKE_PYTHON`);
  }
}
