/** A labelled choice among fixed options (`[value, label]`), the way every filter bar offers one. */
export function OptionSelect<V extends string>({ label, value, options, onChange, disabled }: { label: string; value: V; options: ReadonlyArray<readonly [V, string]>; onChange: (value: V) => void; disabled?: boolean }) {
  return (
    <label>
      {label}
      <select value={value} disabled={disabled} onChange={(e) => onChange(e.target.value as V)}>
        {options.map(([v, text]) => (
          <option key={v} value={v}>
            {text}
          </option>
        ))}
      </select>
    </label>
  );
}
