/** Connectivity and apply state as a word with a colour (the word carries it; the colour helps). */
export function StatusBadge({ status }: { status: string }) {
  return <span className={`badge badge-${status}`}>{status}</span>;
}
