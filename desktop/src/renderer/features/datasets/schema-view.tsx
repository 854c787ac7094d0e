/** One schema version: its fields at a glance, and the JSON Schema itself (a leaf: it never fetches). */
import type { PayloadSchema } from '../../api/datasets.ts';
import { schemaFields, schemaText } from './dataset-view.ts';

export function SchemaView({ schema, caption }: { schema: PayloadSchema; caption: string }) {
  const fields = schemaFields(schema);
  return (
    <div className="schema-view">
      {fields.length === 0 ? (
        <p className="sub">{caption}: the schema names no fields (any payload of its type passes).</p>
      ) : (
        <table className="data-table fields-table">
          <caption>{caption}</caption>
          <thead>
            <tr>
              <th scope="col">Field</th>
              <th scope="col">Type</th>
              <th scope="col">Required</th>
              <th scope="col">Description</th>
            </tr>
          </thead>
          <tbody>
            {fields.map((f) => (
              <tr key={f.path}>
                <th scope="row" className="mono">
                  {f.path}
                </th>
                <td className="mono">{f.type}</td>
                <td>{f.required ? 'required' : 'optional'}</td>
                <td>{f.description}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <details className="schema-json">
        <summary>JSON Schema</summary>
        <pre className="mono">{schemaText(schema)}</pre>
      </details>
    </div>
  );
}
