# An independent reader for the compaction tests and bench: pyarrow reads the Parquet files given as arguments
# and prints count, distinct ids, the sum of the column named by SUM_COLUMN, and the column types, as JSON.
import json, os, sys
import pyarrow.parquet as pq
import pyarrow as pa

tables = [pq.read_table(path) for path in sys.argv[1:]]
table = pa.concat_tables(tables) if tables else None
column = os.environ.get("SUM_COLUMN", "amount")
out = {"count": 0, "distinct": 0, "sum": 0, "types": {}, "compression": []}
if table is not None:
    out["count"] = table.num_rows
    out["distinct"] = len(set(table.column("_id").to_pylist()))
    out["sum"] = sum(v for v in table.column(column).to_pylist() if v is not None)
    out["types"] = {f.name: str(f.type) for f in table.schema}
    meta = pq.ParquetFile(sys.argv[1]).metadata
    out["compression"] = sorted({meta.row_group(0).column(i).compression for i in range(meta.num_columns)})
    out["rowGroups"] = sum(pq.ParquetFile(p).metadata.num_row_groups for p in sys.argv[1:])
print(json.dumps(out))
